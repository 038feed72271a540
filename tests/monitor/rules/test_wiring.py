"""How server.py wires the rules manager: the spec's generated rules, --rules files, the
API callables, and Monitor.notify as the NotifyFunc."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from watchkeeper.generate import build_rule_groups
from watchkeeper.monitor.model import Alert
from watchkeeper.monitor.server import Monitor, MonitorConfig
from watchkeeper.spec import load_spec

MINIMAL = Path(__file__).parents[3] / "examples" / "specs" / "minimal.yaml"


def test_up_with_a_spec_evaluates_the_generated_rules_and_extra_files(tmp_path: Path) -> None:
    extra = tmp_path / "extra.yml"
    extra.write_text(
        "groups:\n  - name: extra\n    rules:\n      - record: x:up\n        expr: up\n"
    )
    monitor = Monitor(
        MonitorConfig(data_dir=tmp_path / "data", spec_path=MINIMAL, rule_files=[extra])
    )
    try:
        assert monitor.rules is not None
        names = [g.name for g in monitor.rules.groups]
        generated = [g.name for g in build_rule_groups(load_spec(MINIMAL))]
        assert names == [*generated, "extra"]
        files = {g.file for g in monitor.rules.groups}
        assert files == {f"{MINIMAL} (prometheus/rules/hello.rules.yml)", str(extra)}
    finally:
        asyncio.run(monitor.stop())


def test_alerts_reach_monitor_notify_even_when_replaced(tmp_path: Path) -> None:
    rules = tmp_path / "r.yml"
    rules.write_text(
        "groups:\n  - name: g\n    rules:\n      - alert: Always\n        expr: vector(1)\n"
    )
    monitor = Monitor(MonitorConfig(data_dir=tmp_path / "data", rule_files=[rules]))
    got: list[Alert] = []

    def plugged(alerts: Sequence[Alert]) -> None:
        got.extend(alerts)

    monitor.notify = plugged
    try:
        assert monitor.rules is not None
        due = monitor.rules.evaluate_all(1_700_000_000_000)
        assert [dict(a.labels)["alertname"] for a in due] == ["Always"]
        monitor.rules._deliver(due)
        assert got == due
    finally:
        asyncio.run(monitor.stop())


def test_no_rules_no_manager(tmp_path: Path) -> None:
    monitor = Monitor(MonitorConfig(data_dir=tmp_path / "data"))
    try:
        assert monitor.rules is None
    finally:
        asyncio.run(monitor.stop())


def _scraped_http(monitor: Monitor, job: str, now_ms: int) -> None:
    """Ten minutes of one route's request counter and latency buckets, 15 s apart:
    1 request/s, 10 % of them 500s, every one under 0.1 s."""
    from watchkeeper.monitor.model import labels_from

    base = {"job": job, "instance": "127.0.0.1:9", "http_route": "/"}
    for i in range(41):
        t = now_ms - (40 - i) * 15_000
        n = 15.0 * i
        for code, share in (("200", 0.9), ("500", 0.1)):
            ids = base | {"http_response_status_code": code}
            name = "http_server_request_duration_seconds"
            monitor.store.append(labels_from({"__name__": f"{name}_count", **ids}), t, n * share)
            for le in ("0.1", "+Inf"):
                bucket = labels_from({"__name__": f"{name}_bucket", **ids, "le": le})
                monitor.store.append(bucket, t, n * share)
    monitor.store.commit()


def test_spec_less_scrape_jobs_get_the_golden_recording_rules_only(tmp_path: Path) -> None:
    from watchkeeper.monitor.promql.value import Vector
    from watchkeeper.monitor.server import ScrapeTarget

    now = 1_700_000_000_000
    targets = [
        ScrapeTarget("hello", "http://127.0.0.1:9/metrics"),  # the spec's own job
        ScrapeTarget("web_app", "http://127.0.0.1:9/metrics"),  # not a valid spec name
    ]
    monitor = Monitor(MonitorConfig(data_dir=tmp_path / "data", spec_path=MINIMAL, targets=targets))
    try:
        assert monitor.rules is not None
        generated = [g.name for g in build_rule_groups(load_spec(MINIMAL))]
        assert [g.name for g in monitor.rules.groups] == [*generated, "web_app-golden-signals"]
        (job_group,) = [g for g in monitor.rules.groups if g.name == "web_app-golden-signals"]
        assert monitor.rules.rule_groups_json()[-1]["rules"], "the group has rules"
        kinds = {r["type"] for r in monitor.rules.rule_groups_json()[-1]["rules"]}
        assert kinds == {"recording"}, "no alerts for a service nobody specced"
        _scraped_http(monitor, "web_app", now)
        assert monitor.rules.evaluate_all(now) == []
        monitor.store.commit()

        def recorded(name: str) -> float:
            value = monitor.engine.instant_query(f'{name}{{service="web_app"}}', now)
            assert isinstance(value, Vector), (name, value)
            assert len(value.samples) == 1, (name, value)
            return value.samples[0].value

        assert abs(recorded("service:http_server_requests:rate5m") - 1.0) < 1e-9
        assert abs(recorded("service:http_server_request_errors:ratio_rate5m") - 0.1) < 1e-9
        assert 0 < recorded("service:http_server_request_duration_seconds:p99_rate5m") <= 0.1
        assert job_group.interval_ms == 60_000
    finally:
        asyncio.run(monitor.stop())


def test_no_spec_rules_means_no_job_rules_either(tmp_path: Path) -> None:
    from watchkeeper.monitor.server import ScrapeTarget

    config = MonitorConfig(
        data_dir=tmp_path / "data",
        targets=[ScrapeTarget("web", "http://127.0.0.1:9/metrics")],
        spec_rules=False,
    )
    monitor = Monitor(config)
    try:
        assert monitor.rules is None
    finally:
        asyncio.run(monitor.stop())
