"""``watchkeeper up`` as a real process probing a real instrumented app: the app's
readiness and an http dependency, queryable through /api/v1/query and listed (with the
conditions) by /api/v1/targets."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.instrument.servers import free_port, serve
from tests.support.watchkeeper import watchkeeper_up
from watchkeeper.generate import build_rule_groups
from watchkeeper.spec import load_spec


def _query(base: str, expr: str) -> dict[str, float]:
    """instance -> value of an instant query."""
    body = httpx.get(f"{base}/api/v1/query", params={"query": expr}, timeout=10).json()
    return {r["metric"].get("instance", ""): float(r["value"][1]) for r in body["data"]["result"]}


def _until(check: Callable[[], Any], what: str, within: float = 60.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"{what} did not happen within {within:.0f}s"
        time.sleep(0.2)


@pytest.mark.slow
def test_up_probes_readiness_and_http_dependencies(tmp_path: Path) -> None:
    ready_file = tmp_path / "ready"
    ready_file.touch()
    port = free_port()
    app = f"http://127.0.0.1:{port}"
    argv = ["uvicorn", "tests.monitor.probe.servers.ready_app:app", "--port", str(port),
            "--host", "127.0.0.1", "--log-level", "warning"]  # fmt: skip
    spec = tmp_path / "watchkeeper.yaml"
    spec.write_text(
        "service: shop\n"
        "scrape_interval: 1s\n"
        f"targets:\n  - 127.0.0.1:{port}\n"
        "dependencies:\n"
        f"  - {{kind: http, name: status-page, url: '{app}/status'}}\n",
        encoding="utf-8",
    )
    with (
        serve(argv, port, env={"WK_READY_FILE": str(ready_file)}),
        watchkeeper_up(tmp_path / "data", "-f", str(spec)) as (base, process),
    ):
        both = _until(
            lambda: (lambda r: r if len(r) == 2 else None)(_query(base, "probe_success")),
            "probes of readiness and the dependency",
        )
        assert both == {f"{app}/ready": 1.0, f"{app}/status": 1.0}
        # The dependency's series carry what the generated blackbox job gives them.
        dependency = httpx.get(
            f"{base}/api/v1/query",
            params={"query": 'probe_http_status_code{job="shop-status-page"}'},
            timeout=10,
        ).json()["data"]["result"]
        assert [(r["metric"], r["value"][1]) for r in dependency] == [
            (
                {
                    "__name__": "probe_http_status_code",
                    "dependency": "status-page",
                    "instance": f"{app}/status",
                    "job": "shop-status-page",
                },
                "200",
            )
        ]

        # The generated ProbeFailing rule, evaluated here as Prometheus would evaluate it.
        (probe_failing,) = [
            a for g in build_rule_groups(load_spec(spec)) for a in g.alerts
            if a.name == "ProbeFailing"
        ]  # fmt: skip
        assert _query(base, probe_failing.expr) == {}

        ready_file.unlink()  # the app is alive but no longer ready: /ready answers 503
        _until(
            lambda: _query(base, "probe_success") == {f"{app}/ready": 0.0, f"{app}/status": 0.0},
            "probe_success of both probes dropping to 0",
        )
        assert _query(base, probe_failing.expr) == {f"{app}/status": 0.0}
        assert _query(base, 'probe_http_status_code{job="shop-health"}') == {f"{app}/ready": 503}
        assert _query(base, 'up{job="shop"}') == {f"127.0.0.1:{port}": 1.0}  # still scraped
        # Probing /ready adds no traffic to the golden signals (the SDK never measures its
        # health paths); the dependency probe of /status is a real request and counts.
        routes = 'sum by (http_route) (http_server_request_duration_seconds_count{job="shop"})'
        counted = httpx.get(f"{base}/api/v1/query", params={"query": routes}, timeout=10).json()
        assert [r["metric"]["http_route"] for r in counted["data"]["result"]] == ["/status"]
        targets = httpx.get(f"{base}/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
        pools = {t["scrapePool"]: t for t in targets}
        assert set(pools) == {"shop", "shop-health", "shop-status-page"}
        health = _until(
            lambda: next(
                t
                for t in httpx.get(f"{base}/api/v1/targets", timeout=10).json()["data"][
                    "activeTargets"
                ]
                if t["scrapePool"] == "shop-health" and t["health"] == "down"
            ),
            "the targets API reporting the probe down",
        )
        assert health["scrapeUrl"] == f"{app}/ready"
        assert health["labels"] == {"job": "shop-health", "instance": f"{app}/ready"}
        assert health["lastError"] == "failed: [STATUS] (503) < 300"
        assert health["probe"]["module"] == "http"
        assert health["probe"]["conditions"] == [
            {"condition": "[STATUS] >= 200", "success": True, "detail": "[STATUS] (503) >= 200"},
            {"condition": "[STATUS] < 300", "success": False, "detail": "[STATUS] (503) < 300"},
        ]
        assert pools["shop-status-page"]["labels"]["dependency"] == "status-page"

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    log = (tmp_path / "data").parent.glob("up-*.log")
    text = "".join(p.read_text() for p in log)
    assert f"probe {app}/ready (job shop-health) failed: [STATUS] (503) < 300" in text
