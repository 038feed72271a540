"""RulesManager with a fake clock: scheduling, hot reload that keeps the last good rules,
the state file that resolves after a restart what cleared while down, and the API views."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from watchkeeper.monitor.model import Alert, Matcher, MatchType, is_stale_nan
from watchkeeper.monitor.promql import Engine
from watchkeeper.monitor.rules import RulesConfig, RulesManager, file_source
from watchkeeper.monitor.rules.manager import STATE_FILE
from watchkeeper.monitor.rules.views import rfc3339
from watchkeeper.monitor.storage.memory import MemoryStorage

START = 1_700_000_000.0
SERIES = (("__name__", "load"), ("job", "api"))

RULES = """\
groups:
  - name: g
    interval: 10s
    rules:
      - record: job:load:max
        expr: max by (job) (load)
      - alert: High
        expr: job:load:max > THRESHOLD
        labels: {severity: page}
        annotations: {summary: 'load {{ $value }}'}
"""


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


class Harness:
    def __init__(self, tmp_path: Path, store: MemoryStorage | None = None) -> None:
        self.clock = Clock()
        self.store = store or MemoryStorage()
        self.sent: list[Alert] = []
        self.rules = tmp_path / "rules.yml"
        self.data = tmp_path / "data"
        self.data.mkdir(exist_ok=True)
        if not self.rules.exists():
            self.write(RULES.replace("THRESHOLD", "1"))

    def manager(self) -> RulesManager:
        return RulesManager(
            [file_source(self.rules)],
            query=Engine(self.store).instant_query,
            appendable=self.store,
            queryable=self.store,
            notify=self.sent.extend,
            data_dir=self.data,
            config=RulesConfig(reload_check_s=0.0),
            clock=self.clock,
            offload=False,
        )

    def write(self, text: str) -> None:
        self.rules.write_text(text)
        # A new mtime even within the file system's timestamp granularity.
        st = self.rules.stat()
        os.utime(self.rules, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))

    def run(self, manager: RulesManager, seconds: float, load: float | None) -> list[Alert]:
        """Advance in 1 s ticks, feeding ``load`` each tick; returns what was notified."""
        before = len(self.sent)
        end = self.clock.now + seconds
        while self.clock.now < end:
            self.clock.now += 1
            if load is not None:
                self.store.append(SERIES, int(self.clock.now * 1000), load)
            self.sent.extend(manager.step())
        return self.sent[before:]


def test_groups_run_on_their_interval_and_notify_firing_alerts(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    manager = h.manager()
    sent = h.run(manager, 35, load=5)
    (group,) = manager.groups
    # From the first aligned slot after the start, every 10 s (the slot's offset within
    # the interval comes from a hash of the file and group name).
    assert group.evaluations in (3, 4)  # the slots in 35 s
    assert group.last_eval_ms % 10_000 == group.offset_ms()
    assert sent
    assert {dict(a.labels)["alertname"] for a in sent} == {"High"}
    assert all(not a.resolved_at(int(h.clock.now * 1000)) for a in sent)


def test_a_bad_edit_keeps_the_last_good_rules_until_fixed(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    manager = h.manager()
    h.run(manager, 25, load=5)
    assert manager.load_errors() == []
    h.write(RULES.replace("THRESHOLD", "1").replace("expr: max", "expr: max by ("))
    h.run(manager, 12, load=5)
    (error,) = manager.load_errors()
    assert error.startswith(f'{h.rules}:6: group "g", rule 1 (record "job:load:max")')
    (group,) = manager.groups
    evaluations = group.evaluations
    h.run(manager, 20, load=5)
    assert manager.groups[0].evaluations > evaluations  # the old rules still run
    assert manager.alerts_json()[0]["state"] == "firing"
    # Fixed with a higher threshold: reloaded, error gone, the alert resolves.
    h.write(RULES.replace("THRESHOLD", "10"))
    sent = h.run(manager, 25, load=5)
    assert manager.load_errors() == []
    assert manager.alerts_json() == []
    assert any(a.resolved_at(int(h.clock.now * 1000)) for a in sent)


def test_a_removed_group_marks_its_series_stale(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    manager = h.manager()
    h.run(manager, 25, load=5)
    h.write("groups: []\n")
    h.run(manager, 3, load=5)
    assert manager.groups == []
    (recorded,) = h.store.select(
        [Matcher.of("__name__", MatchType.EQUAL, "job:load:max")], 0, 2**62
    )
    assert is_stale_nan(float(recorded.values[-1]))


def test_an_alert_that_cleared_while_down_is_resolved_after_restart(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    first = h.manager()
    h.run(first, 25, load=5)
    assert first.alerts_json()[0]["state"] == "firing"
    assert "High" in (h.data / STATE_FILE).read_text()
    # Down for a minute; the load dropped meanwhile. A new manager on the same data dir.
    h.clock.now += 60
    second = h.manager()
    sent_before = list(h.sent)
    while second.groups[0].evaluations < 1:
        h.run(second, 1, load=0)
    assert h.sent == sent_before  # not at the first evaluation (data may not be scraped yet)
    sent = []
    while second.groups[0].evaluations < 2:
        sent += h.run(second, 1, load=0)
    (resolved,) = sent
    now_ms = int(h.clock.now * 1000)
    assert dict(resolved.labels) == {"alertname": "High", "job": "api", "severity": "page"}
    assert resolved.annotations == (("summary", "load 5"),)
    assert resolved.resolved_at(now_ms)
    assert resolved.starts_at_ms < resolved.ends_at_ms
    # The resolution is kept and re-sent like any other, then forgotten.
    assert h.run(second, 70, load=0)
    assert "High" not in (h.data / STATE_FILE).read_text()


def test_an_alert_still_active_after_restart_is_not_resolved(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.run(h.manager(), 25, load=5)
    h.clock.now += 30
    second = h.manager()
    sent = h.run(second, 40, load=5)
    assert sent
    assert not any(a.resolved_at(int(h.clock.now * 1000)) for a in sent)


def test_a_failing_notifier_does_not_stop_evaluation(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    manager = h.manager()

    def broken(alerts: Sequence[Alert]) -> None:
        raise RuntimeError("receiver exploded")

    manager.notify = broken
    for _ in range(30):
        h.clock.now += 1
        h.store.append(SERIES, int(h.clock.now * 1000), 5)
        manager._deliver(manager.step())
    assert manager.groups[0].evaluations >= 2


def test_views_have_prometheus_shapes(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    manager = h.manager()
    h.run(manager, 25, load=5)
    (group,) = manager.rule_groups_json()
    assert set(group) == {
        "name", "file", "rules", "interval", "limit", "evaluationTime", "lastEvaluation"
    }  # fmt: skip
    assert (group["name"], group["file"], group["interval"]) == ("g", str(h.rules), 10.0)
    record, alert = group["rules"]
    assert record["type"] == "recording"
    assert record["health"] == "ok"
    assert "lastError" not in record
    assert alert["type"] == "alerting"
    assert alert["state"] == "firing"
    assert (alert["duration"], alert["keepFiringFor"]) == (0.0, 0.0)
    assert alert["annotations"] == {"summary": "load {{ $value }}"}
    (active,) = alert["alerts"]
    assert active["value"] == "5e+00"
    assert active["annotations"] == {"summary": "load 5"}
    assert active["activeAt"].endswith("Z")
    assert manager.alerts_json() == [active]


@pytest.mark.parametrize(
    ("ms", "text"),
    [(0, "0001-01-01T00:00:00Z"), (1_700_000_000_120, "2023-11-14T22:13:20.12Z")],
)
def test_rfc3339_like_go(ms: int, text: str) -> None:
    assert rfc3339(ms) == text


def test_a_file_broken_at_restart_settles_its_alerts_once_fixed(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.run(h.manager(), 25, load=5)
    good = h.rules.read_text()
    h.write(good.replace("expr: max", "expr: max by ("))
    h.clock.now += 60
    second = h.manager()
    assert second.load_errors()
    assert h.run(second, 30, load=0) == []  # nothing to evaluate, nothing resolved blindly
    assert "High" in (h.data / STATE_FILE).read_text()
    h.write(good)
    sent = h.run(second, 30, load=0)
    (resolved,) = [a for a in sent if a.resolved_at(int(h.clock.now * 1000))][:1]
    assert dict(resolved.labels)["alertname"] == "High"
