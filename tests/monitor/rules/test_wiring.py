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
