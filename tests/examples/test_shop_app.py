"""The shop (examples/shop_app, guide seed 002) under gunicorn and `watchkeeper up`, end to end.

Real processes on 127.0.0.1: the fake payments API, the shop (gunicorn, 2 gthread
workers, database ``wk_shop``, Redis db 11) and `watchkeeper up`; a webhook Sink stands
in for the spec's receiver. The test spec is the example's watchkeeper.yaml loaded with
ruamel.yaml (PyYAML is not installed) and changed only for speed and the environment:
the target and the payments URL point at this test's ports, scrape_interval 1s, the
alerts' rate windows 10s (TrafficDrop: 10s against 30s earlier instead of 1h against a
day earlier) and their `for:` 3s, each SLO's burn windows replaced by one page window of
30s/10s **with the same factor 14.4** the default 1h page uses, QueueBacklog keeps the
guide's 10000, the receiver's URL is the Sink's, group_wait/group_interval 1s. No
postgres_exporter or redis_exporter runs here, so the test spec drops the ``orders-db``
(postgres) and ``cache`` (redis) dependencies: `watchkeeper up -f` scrapes every exporter
job of the spec as Prometheus would, and one nobody serves is down (DatabaseDown and
RedisDown would fire). Dropping only their ``exporter:`` address would not do: it
defaults to ``postgres-exporter:9187`` / ``redis-exporter:9121``, down here too. Without
those dependencies the spec has no DatabaseDown or RedisDown rule, so this test does not
check them; the llm_gateway test fires and resolves both against stand-in exporters.
TrafficSpike keeps its day offset, so it cannot fire here (only the generated promtool
tests exercise it).

Phase 1, a browser: headless chromium loads the page; its RUM beacon is in the monitor.
Phase 2, every fault at once (they are independent): 20% of API requests raise
(HighErrorRate + availability SLO burn, error tracking), the stock query sleeps 1.2 s in
PostgreSQL (HighLatencyP99 + latency SLO burn, slow-query log), the catalogue cache is
bypassed (CacheHitRateLow), the email consumers stall while a newsletter queues 13000
emails (QueueBacklog), the payments API is down (ProbeFailing; /health/detailed
"degraded", checkout answers 202 and keeps the order). Every alert arrives firing with
its labels and runbook link, grouped by alertname/service/slo, then resolved.
Phase 3: traffic stops (TrafficDrop fires), then resumes (it resolves).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from ruamel.yaml import YAML

from tests.examples.harness import (
    ROOT,
    Sink,
    Traffic,
    alerts_named,
    fault,
    firing,
    free_port,
    logs_on_failure,
    query,
    resolved,
    running_service,
    wait_for,
    watchkeeper_up,
)

pytestmark = pytest.mark.slow

SPEC = ROOT / "examples" / "shop_app" / "watchkeeper.yaml"
RUNBOOKS = "examples/shop_app/monitoring/runbooks"
CHROMIUM = "/usr/bin/chromium"
REDIS_DB = 11  # this example's own Redis database
FAST = {"window": "10s", "for": "3s"}
EXPECTED = {  # alert -> labels it must carry besides alertname/service/team
    "HighErrorRate": {"severity": "critical"},
    "HighLatencyP99": {"severity": "warning"},
    "CacheHitRateLow": {"severity": "warning", "cache": "catalog"},
    "QueueBacklog": {"severity": "warning", "queue": "emails"},
    "ProbeFailing": {"severity": "critical", "dependency": "payments-api"},
}


def _test_spec(tmp_path: Path, port: int, upstream: int, sink: Sink) -> Path:
    yaml = YAML()
    spec: dict[str, Any] = yaml.load(SPEC.read_text())
    spec["targets"] = [f"http://127.0.0.1:{port}/metrics"]
    spec["scrape_interval"] = "1s"
    # no exporter runs here: no exporter jobs (see the module's docstring)
    deps = [d for d in spec["dependencies"] if d["kind"] not in {"postgres", "redis"}]
    spec["dependencies"] = deps
    for dep in deps:
        if dep["kind"] == "http":
            dep["url"] = f"http://127.0.0.1:{upstream}/health"
    alerts = spec["alerts"]
    for name in ("HighErrorRate", "HighLatencyP99", "CacheHitRateLow"):
        alerts[name].update(FAST)
    alerts["QueueBacklog"]["for"] = "3s"
    alerts["ProbeFailing"] = {"for": "3s"}
    alerts["TrafficDrop"].update({"window": "10s", "offset": "30s", "for": "3s"})
    for slo in spec["slos"]:
        slo["burn_windows"] = [
            {"tier": "page", "long": "30s", "short": "10s", "factor": 14.4, "for": "2s"}
        ]
    notify = spec["notify"]
    notify.update({"group_wait": "1s", "group_interval": "1s"})
    notify["receivers"] = [{"name": "shop-alerts", "webhook": {"url": sink.url}}]
    path = tmp_path / "watchkeeper.yaml"
    with path.open("w") as out:
        yaml.dump(spec, out)
    return path


def _clean_redis() -> None:
    """Only this example's keys in its own database."""
    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    keys = list(client.scan_iter("shop:*"))
    if keys:
        client.delete(*keys)
    client.close()


def _value(monitor: str, promql: str) -> float | None:
    result = query(monitor, promql)
    return float(result[0]["value"][1]) if result else None


def _active_alerts(monitor: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{monitor}/api/v1/alerts", timeout=10)
    response.raise_for_status()
    alerts: list[dict[str, Any]] = response.json()["data"]["alerts"]
    return alerts


def _browse_once(base: str, monitor: str) -> None:
    """A real browser loads the page; its RUM beacon reaches the monitor (polled there,
    not on /metrics: a second scraper would only add to the monitor's own scrapes)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page()
            page.goto(f"{base}/", wait_until="load")
            page.wait_for_function("document.title.startsWith('shop: ')")
            for metric in ("rum_page_load_duration_seconds", "rum_api_call_duration_seconds"):
                query = f'sum({metric}_count{{page="/"}})'  # the page's load, then its fetch
                wait_for(partial(_value, monitor, query), 60, f"{query} in the monitor")
        finally:
            browser.close()


def _mark(started: float, what: str) -> None:
    """Phase times on stderr (shown with -s, and on failure)."""
    print(f"shop e2e +{time.monotonic() - started:.0f}s: {what}", file=sys.stderr)


def _after(sink: Sink, skip: int, name: str, status: str) -> dict[str, Any]:
    """Wait for ``name`` to arrive as ``status`` in a notification after the first ``skip``."""

    def found() -> list[dict[str, Any]]:
        return [
            a
            for body in sink.received()[skip:]
            for a in body["alerts"]
            if a["labels"]["alertname"] == name and a["status"] == status
        ]

    alerts: list[dict[str, Any]] = wait_for(found, 120, f"{name} {status}")
    return alerts[-1]


def _burn(sink: Sink, slo: str, status: str) -> dict[str, Any]:
    """The latest SLOErrorBudgetBurn of ``slo`` received as ``status``."""

    def found() -> list[dict[str, Any]]:
        alerts = alerts_named(sink, "SLOErrorBudgetBurn", status)
        return [a for a in alerts if a["labels"]["slo"] == slo]

    alerts: list[dict[str, Any]] = wait_for(found, 150, f"SLOErrorBudgetBurn slo={slo} {status}")
    return alerts[-1]


def _check_alert(alert: dict[str, Any], name: str) -> None:
    labels = alert["labels"]
    assert labels["alertname"] == name
    assert labels["service"] == "shop"
    assert labels["team"] == "shop"
    for key, value in EXPECTED.get(name, {}).items():
        assert labels[key] == value, (name, labels)
    assert alert["annotations"]["runbook_url"] == f"{RUNBOOKS}/{name}.md"
    assert alert["annotations"]["summary"]


def test_shop_faults_fire_grouped_alerts_with_runbooks_then_resolve(tmp_path: Path) -> None:
    if shutil.which(CHROMIUM) is None:
        pytest.fail("Debian's chromium is missing: run scripts/setup-system.sh")
    started = time.monotonic()
    _clean_redis()
    port, upstream_port = free_port(), free_port()
    base, upstream = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{upstream_port}"
    logs = tmp_path / "shop.log", tmp_path / "payments.log", tmp_path / "monitor.log"
    # the generated runbooks the alerts link to (checked once the alerts fired)
    generate = subprocess.Popen(
        [sys.executable, "-m", "watchkeeper.cli", "generate", "-f", str(SPEC), "--out",
         str(tmp_path / "monitoring")],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    sink = Sink().start()
    spec = _test_spec(tmp_path, port, upstream_port, sink)
    up_args = ["-f", str(spec), "--evaluation-interval", "1s", "--alert-resend-delay", "1s"]
    browse = [("GET", "/"), ("GET", "/api/products"), ("POST", "/api/orders")]

    def detail(rng: Any) -> tuple[str, str]:
        return "GET", f"/api/products/{rng.randint(1, 20)}"

    order = {"product_id": 3, "qty": 1}
    env = {"TMPDIR": str(tmp_path)}  # gunicorn's multiprocess directory stays in tmp_path
    with (
        sink,
        logs_on_failure(*logs),
        running_service(
            ["{python}", "-m", "examples.shop_app.upstream", "--port", str(upstream_port)],
            ready_url=f"{upstream}/health",
            log_path=logs[1],
        ),
        running_service(
            [
                "{python}",
                "-m",
                "examples.shop_app",
                "--port",
                str(port),
                "--upstream-port",
                str(upstream_port),
            ],
            ready_url=f"{base}/ready",
            log_path=logs[0],
            env=env,
        ),  # fmt: skip
        watchkeeper_up(tmp_path / "data", *up_args, log_path=logs[2]) as (monitor, _),
    ):
        _mark(started, "services up")
        traffic = [Traffic(base, browse, rate_per_s=10, json=order)]
        traffic += [Traffic(base, [detail], rate_per_s=2) for _ in range(6)]
        with contextlib.ExitStack() as running:
            for t in traffic:
                running.enter_context(t)

            # -- phase 1: a real browser; RUM reaches the monitor ----------------------
            _mark(started, "phase 1")
            _browse_once(base, monitor)
            assert _value(monitor, 'sum(rum_beacons_total{result="accepted"})') >= 1  # type: ignore[operator]

            # -- phase 2: every fault at once ------------------------------------------
            _mark(started, "phase 2")
            fault(base, "email_worker_stalled")
            fault(base, "errors", value=0.2)
            fault(base, "slow_queries", value=1.2)
            fault(base, "cache_bypass")
            fault(upstream, "down")
            httpx.post(f"{base}/api/admin/newsletter", params={"count": 13000}, timeout=30)

            # the service shows the outage it degrades around
            def degraded() -> dict[str, Any] | None:
                response = httpx.get(f"{base}/health/detailed", timeout=10)
                report: dict[str, Any] = response.json()
                return report if report["status"] == "degraded" else None

            report = wait_for(degraded, 30, "/health/detailed degraded")
            assert report["checks"]["payments-api"]["status"] == "fail"
            assert report["checks"]["payments-api"]["critical"] is False
            assert report["checks"]["postgres"]["status"] == "pass"
            assert httpx.get(f"{base}/ready", timeout=10).status_code == 200  # still ready

            def deferred() -> dict[str, Any] | None:
                response = httpx.post(f"{base}/api/orders", json=order, timeout=10)
                body: dict[str, Any] = response.json() if response.status_code == 202 else {}
                return body or None

            pending = wait_for(deferred, 30, "checkout keeping the order, payments down")
            assert pending["status"] == "payment_pending"

            for name in EXPECTED:
                _check_alert(firing(sink, name), name)
            burns = {slo: _burn(sink, slo, "firing") for slo in ("availability", "latency")}
            for alert in burns.values():
                _check_alert(alert, "SLOErrorBudgetBurn")
                assert alert["labels"]["severity"] == "critical"
                assert alert["labels"]["burn_tier"] == "page"
                assert alert["labels"]["long_window"] == "30s"

            # grouped by alertname, service, slo: the two SLOs never share a notification
            for body in sink.received():
                assert set(body["groupLabels"]) <= {"alertname", "service", "slo"}
                names = {a["labels"]["alertname"] for a in body["alerts"]}
                slos = {a["labels"].get("slo") for a in body["alerts"]}
                assert len(names) == 1, body["groupLabels"]
                assert len(slos) == 1, body["groupLabels"]
            # every generated alert's runbook link resolves to a generated runbook
            assert generate.wait(60) == 0
            for name in [*EXPECTED, "SLOErrorBudgetBurn", "TrafficDrop"]:
                assert (tmp_path / "monitoring" / "runbooks" / f"{name}.md").is_file()

            # the monitor's API shows the same state
            active = {a["labels"]["alertname"] for a in _active_alerts(monitor)}
            assert set(EXPECTED) | {"SLOErrorBudgetBurn"} <= active, active
            assert _value(monitor, 'max(queue_depth{job="shop",queue="emails"})') > 10000  # type: ignore[operator]
            assert _value(monitor, 'probe_success{job="shop-payments-api"}') == 0
            errors = query(monitor, 'watchkeeper_exceptions_total{job="shop"}')
            assert {e["metric"]["type"] for e in errors} == {"RuntimeError"}
            products = 'job="shop",db_collection_name="products",db_operation_name="select"'
            slow_db = _value(
                monitor,
                "histogram_quantile(0.99, sum by (le) "
                f"(rate(db_client_operation_duration_seconds_bucket{{{products}}}[30s])))",
            )
            assert (slow_db or 0) > 1  # p99 of the products table's queries, from PostgreSQL
            failed = 'outcomes_total{job="shop",operation="checkout",result="failure"}'
            assert (_value(monitor, f"sum({failed})") or 0) >= 1
            shop_log = logs[0].read_text()
            assert "slow query: " in shop_log
            assert "pg_sleep" in shop_log
            lines = [json.loads(x) for x in shop_log.splitlines() if x.startswith("{")]
            tracked = [x for x in lines if x.get("logger") == "watchkeeper.errors"]
            assert tracked
            assert tracked[0]["error_type"] == "RuntimeError"
            assert tracked[0]["http_route"] in {"/api/products", "/api/products/<int:product_id>",
                                                "/api/orders"}  # fmt: skip
            assert len({x["error_fingerprint"] for x in tracked}) <= 3  # one group per route

            # -- the faults clear: every alert resolves ---------------------------------
            _mark(started, "the faults clear")
            for name in ("errors", "slow_queries", "cache_bypass", "email_worker_stalled"):
                fault(base, name, on=False)
            fault(upstream, "down", on=False)
            for name in EXPECTED:
                _check_alert(resolved(sink, name), name)
            for slo in ("availability", "latency"):
                _check_alert(_burn(sink, slo, "resolved"), "SLOErrorBudgetBurn")
            assert httpx.get(f"{base}/health/detailed", timeout=10).json()["status"] == "healthy"

        # -- phase 3: traffic stops (TrafficDrop), then comes back ---------------------
        _mark(started, "phase 3")
        # (only notifications after the stop count: a loaded machine may have seen
        # phase 2's slower traffic as a drop already)
        seen = len(sink.received())
        drop = _after(sink, seen, "TrafficDrop", "firing")
        _check_alert(drop, "TrafficDrop")
        assert "less than 0.5x the rate 30s ago" in drop["annotations"]["summary"]
        with Traffic(base, browse, rate_per_s=10, json=order):
            _check_alert(_after(sink, seen, "TrafficDrop", "resolved"), "TrafficDrop")

        never = {"ServiceDown", "HealthCheckFailing", "TrafficSpike"}
        fired = {a["labels"]["alertname"] for b in sink.received() for a in b["alerts"]}
        assert not fired & never, fired
        _mark(started, "done")
