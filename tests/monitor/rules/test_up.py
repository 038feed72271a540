"""``watchkeeper up --rules`` as a real process: alerts go pending then firing and show in
the API and as ``ALERTS``; a bad edit keeps the last good rules; a restart restores
``for`` state; an alert that cleared while the monitor was killed is resolved after.

A static /metrics endpoint serves a gauge the test sets; a second endpoint stands in
for an external Alertmanager (``--alertmanager-url``) and records what the monitor's
notifier forwards, so the resolved notification is observed from outside.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from tests.support.watchkeeper import watchkeeper_up
from watchkeeper.cli.rules_cmds import rules as rules_cli

RULES = """\
groups:
  - name: load
    interval: 1s
    rules:
      - record: job:demo_load:max
        expr: max by (job) (demo_load)
      - alert: HighLoad
        expr: job:demo_load:max > 1
        for: 5s
        labels: {severity: page}
        annotations: {summary: '{{ $labels.job }} load is {{ $value }}'}
      - alert: SlowBurn
        expr: job:demo_load:max > 1
        for: 10m
"""


class _World:
    """The app's /metrics (a gauge we set) and an Alertmanager stand-in recording posts."""

    def __init__(self) -> None:
        self.load = 5.0
        self.posted: list[dict[str, Any]] = []
        world = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = f"# TYPE demo_load gauge\ndemo_load {world.load}\n".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                data = json.loads(self.rfile.read(length) or b"[]")
                world.posted.extend(data if isinstance(data, list) else data.get("alerts", []))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def world() -> Iterator[_World]:
    w = _World()
    try:
        yield w
    finally:
        w.close()


def _up(tmp_path: Path, world: _World, *extra: str) -> Any:
    rules = tmp_path / "rules.yml"
    if not rules.exists():
        rules.write_text(RULES)
    return watchkeeper_up(
        tmp_path / "data",
        "--target",
        f"demo={world.url}/metrics",
        "--scrape-interval",
        "1s",
        "--no-health-probes",
        "--rules",
        str(rules),
        "--alertmanager-url",
        world.url,
        "--alert-for-grace-period",
        "1s",
        *extra,
        log_path=tmp_path / f"up-{time.monotonic_ns()}.log",
    )


def _wait(what: str, probe: Callable[[], Any], timeout_s: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _alerts(url: str) -> dict[str, dict[str, Any]]:
    body = httpx.get(f"{url}/api/v1/alerts", timeout=10).json()
    return {a["labels"]["alertname"]: a for a in body["data"]["alerts"]}


def _state(url: str, name: str) -> str | None:
    alert = _alerts(url).get(name)
    return alert["state"] if alert else None


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_alert_goes_pending_then_firing_and_bad_edits_keep_the_last_good_rules(
    tmp_path: Path, world: _World
) -> None:
    with _up(tmp_path, world) as (url, _):
        alert = _wait(
            "HighLoad firing",
            lambda: (
                _alerts(url).get("HighLoad", {}).get("state") == "firing"
                and _alerts(url)["HighLoad"]
            ),
        )
        assert alert["labels"] == {"alertname": "HighLoad", "job": "demo", "severity": "page"}
        assert alert["annotations"] == {"summary": "demo load is 5"}
        assert alert["value"] == "5e+00"
        query = httpx.get(
            f"{url}/api/v1/query", params={"query": 'ALERTS{alertstate="firing"}'}, timeout=10
        ).json()
        assert [r["metric"]["alertname"] for r in query["data"]["result"]] == ["HighLoad"]
        # It was pending first, for its 5 s, as the ALERTS history shows whatever our
        # polling saw: every pending sample comes before the first firing one.
        history = httpx.get(
            f"{url}/api/v1/query",
            params={"query": 'ALERTS{alertname="HighLoad"}[5m]'},
            timeout=10,
        ).json()["data"]["result"]
        times = {r["metric"]["alertstate"]: [float(t) for t, _ in r["values"]] for r in history}
        # (ALERTS is written from the third evaluation on, once the for-state restore ran.)
        assert times["pending"]
        assert max(times["pending"]) < min(times["firing"])
        assert min(times["firing"]) - _ts(alert["activeAt"]) >= 5
        # The notifier forwarded it to the "external Alertmanager".
        _wait(
            "the firing alert forwarded",
            lambda: any(p["labels"].get("alertname") == "HighLoad" for p in world.posted),
        )
        # A broken edit: reported as an API warning, the old rules keep evaluating.
        rules = tmp_path / "rules.yml"
        rules.write_text(RULES.replace("for: 5s", "for: soon"))
        body = _wait(
            "the load error",
            lambda: (
                (b := httpx.get(f"{url}/api/v1/rules", timeout=10).json()).get("warnings") and b
            ),
        )
        (warning,) = body["warnings"]
        assert f'{rules}:9: group "load", rule 2 (alert "HighLoad"): for:' in warning
        last = body["data"]["groups"][0]["lastEvaluation"]
        _wait(
            "another evaluation",
            lambda: (
                httpx.get(f"{url}/api/v1/rules", timeout=10).json()["data"]["groups"][0][
                    "lastEvaluation"
                ]
                != last
            ),
        )
        assert _state(url, "HighLoad") == "firing"
        shown = CliRunner().invoke(rules_cli, ["show", "--url", url])
        assert shown.exit_code == 1
        assert f"LOAD ERROR  {rules}:9:" in shown.output
        assert "ok   alerting  HighLoad firing" in shown.output
        # Fixed: reloaded without a restart.
        rules.write_text(RULES.replace("HighLoad", "HeavyLoad"))
        _wait("the renamed alert", lambda: "HeavyLoad" in _alerts(url))
        assert "warnings" not in httpx.get(f"{url}/api/v1/rules", timeout=10).json()


def _for_state_samples(url: str) -> list[tuple[float, float]]:
    """Every ALERTS_FOR_STATE sample of SlowBurn: (timestamp, active-since seconds)."""
    body = httpx.get(
        f"{url}/api/v1/query",
        params={"query": 'ALERTS_FOR_STATE{alertname="SlowBurn"}[1h]'},
        timeout=10,
    ).json()
    result = body["data"]["result"]
    return [(float(t), float(v)) for t, v in result[0]["values"]] if result else []


def test_a_restart_restores_for_state(tmp_path: Path, world: _World) -> None:
    with _up(tmp_path, world) as (url, process):
        # Restored (and so written to ALERTS_FOR_STATE) from the third evaluation on.
        _wait("ALERTS_FOR_STATE", lambda: _for_state_samples(url))
        time.sleep(6)  # pending a while longer (setup, not an assertion), then a clean stop
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    restarted_at = time.time()
    with _up(tmp_path, world) as (url, _):
        # After a restart ALERTS_FOR_STATE is written again only once the restore ran.
        samples = _wait(
            "ALERTS_FOR_STATE after the restart",
            lambda: (s := _for_state_samples(url)) and s[-1][0] > restarted_at and s,
        )
    before = [(t, v) for t, v in samples if t < restarted_at]
    after = [(t, v) for t, v in samples if t > restarted_at]
    active_since = before[0][1]
    down_at = before[-1][0]
    first_after, restored = after[0]
    assert all(v == active_since for _, v in before)
    # Like Prometheus: the pending time before the stop is kept and the downtime added,
    # i.e. active since (original) + (restore time - last sample before the stop); the
    # restore runs one 1 s evaluation before the first sample is written (more when a
    # loaded machine makes the loop skip slots, hence the slack below).
    expected = active_since + (first_after - 1 - down_at)
    assert expected - 5 <= restored <= expected + 1
    # Without the restore it would be pending since its first evaluation after the
    # restart, two evaluations before that sample; the kept pending time is > 6 s.
    assert restored < first_after - 2 - 4


def test_an_alert_that_cleared_while_killed_is_resolved_after_restart(
    tmp_path: Path, world: _World
) -> None:
    with _up(tmp_path, world) as (url, process):
        _wait("HighLoad firing", lambda: _state(url, "HighLoad") == "firing")
        assert "HighLoad" in (tmp_path / "data" / "rules-state.json").read_text()
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    world.load = 0.0
    world.posted.clear()
    with _up(tmp_path, world) as (url, _):

        def resolved() -> dict[str, Any] | None:
            for posted in list(world.posted):
                if posted["labels"].get("alertname") != "HighLoad":
                    continue
                if _ts(posted["endsAt"]) <= time.time():
                    return posted
            return None

        alert = _wait("the resolved notification", resolved)
        assert alert["labels"] == {"alertname": "HighLoad", "job": "demo", "severity": "page"}
        assert alert["annotations"] == {"summary": "demo load is 5"}
        assert _state(url, "HighLoad") is None
