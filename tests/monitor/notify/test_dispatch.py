"""The dispatcher's grouping, timing, dedup and muting, driven with explicit times."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.monitor.notify.support import alert, webhook_config
from watchkeeper.monitor.model import Alert
from watchkeeper.monitor.notify import parse_config
from watchkeeper.monitor.notify.alerts import AlertStore, entry_from_alert
from watchkeeper.monitor.notify.dispatch import Dispatcher
from watchkeeper.monitor.notify.silences import Silences, silence_from_api
from watchkeeper.monitor.notify.store import NotifyStore

T0 = 1_700_000_000_000
S = 1000


class Harness:
    def __init__(self, store: NotifyStore, config: dict[str, Any]) -> None:
        self.store = store
        self.silences = Silences(store)
        self.d = Dispatcher(parse_config(config), AlertStore(), self.silences, store)

    def put(self, now: int, *alerts: Alert) -> None:
        self.d.ingest([entry_from_alert(a, now, 300 * S) for a in alerts], now)

    def tick(self, now: int) -> list[dict[str, Any]]:
        """Run the timers at ``now``; the messages written to the outbox by this tick."""
        before = {row.id for row, _ in self.store.notifications(limit=10_000)}
        self.d.run_due(now)
        rows = self.store.notifications(limit=10_000)
        return [row.message for row, _ in reversed(rows) if row.id not in before]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[NotifyStore]:
    s = NotifyStore(tmp_path)
    yield s
    s.close()


def names(message: dict[str, Any]) -> list[tuple[str, str]]:
    return [(a["labels"].get("instance", ""), a["status"]) for a in message["alerts"]]


def cfg(**kw: Any) -> dict[str, Any]:
    kw.setdefault("group_wait", "10s")
    kw.setdefault("group_interval", "20s")
    kw.setdefault("repeat_interval", "60s")
    return webhook_config({"hook": "http://127.0.0.1:1/"}, **kw)


def test_group_wait_collects_alerts_then_group_interval_batches_changes(
    store: NotifyStore,
) -> None:
    h = Harness(store, cfg())
    h.put(T0, alert("Down", starts=T0, ends=T0 + 600 * S, instance="a"))
    h.put(T0 + 3 * S, alert("Down", starts=T0 + 3 * S, ends=T0 + 600 * S, instance="b"))
    assert h.tick(T0 + 9 * S) == []
    (first,) = h.tick(T0 + 10 * S)
    assert first["status"] == "firing"
    assert first["groupLabels"] == {"alertname": "Down"}
    assert names(first) == [("a", "firing"), ("b", "firing")]
    # A third alert joins after the first flush: it waits for the group interval.
    h.put(T0 + 12 * S, alert("Down", starts=T0 + 12 * S, ends=T0 + 600 * S, instance="c"))
    assert h.tick(T0 + 15 * S) == []
    (second,) = h.tick(T0 + 30 * S)
    assert names(second) == [("a", "firing"), ("b", "firing"), ("c", "firing")]
    # Nothing changed: no message until the repeat interval has passed.
    assert h.tick(T0 + 50 * S) == []
    assert h.tick(T0 + 90 * S) == []  # exactly 60 s: not yet (Alertmanager's "Before")
    (repeat,) = h.tick(T0 + 110 * S)
    assert len(repeat["alerts"]) == 3


def test_an_alert_that_started_long_ago_is_sent_without_waiting(store: NotifyStore) -> None:
    h = Harness(store, cfg())
    h.put(T0, alert("Down", starts=T0 - 60 * S, ends=T0 + 600 * S))
    (message,) = h.tick(T0)
    assert message["alerts"][0]["startsAt"] == T0 - 60 * S


def test_resolved_is_sent_once_then_the_alert_leaves_the_group(store: NotifyStore) -> None:
    h = Harness(store, cfg())
    h.put(T0, alert("Down", starts=T0, ends=T0 + 600 * S, instance="a"))
    h.put(T0, alert("Down", starts=T0, ends=T0 + 600 * S, instance="b"))
    assert len(h.tick(T0 + 10 * S)) == 1
    h.put(T0 + 15 * S, alert("Down", starts=T0, ends=T0 + 15 * S, instance="a"))
    (message,) = h.tick(T0 + 30 * S)
    assert message["status"] == "firing"
    assert names(message) == [("a", "resolved"), ("b", "firing")]
    h.put(T0 + 35 * S, alert("Down", starts=T0, ends=T0 + 35 * S, instance="b"))
    (last,) = h.tick(T0 + 50 * S)
    assert last["status"] == "resolved"
    assert names(last) == [("b", "resolved")]
    assert h.d.groups() == []
    assert h.tick(T0 + 200 * S) == []


def test_without_send_resolved_resolved_alerts_are_not_sent(store: NotifyStore) -> None:
    h = Harness(store, cfg(send_resolved=False))
    h.put(T0, alert("Down", starts=T0, ends=T0 + 600 * S, instance="a"))
    h.put(T0, alert("Down", starts=T0, ends=T0 + 600 * S, instance="b"))
    assert len(h.tick(T0 + 10 * S)) == 1
    h.put(T0 + 15 * S, alert("Down", starts=T0, ends=T0 + 15 * S, instance="a"))
    # One resolved, one still firing: nothing new fires, so nothing is sent.
    assert h.tick(T0 + 30 * S) == []
    h.put(T0 + 35 * S, alert("Down", starts=T0, ends=T0 + 35 * S, instance="b"))
    assert h.tick(T0 + 50 * S) == []


def test_an_alert_without_end_times_out_after_resolve_timeout(store: NotifyStore) -> None:
    h = Harness(store, cfg(repeat_interval="1h"))
    h.put(T0, alert("Down", starts=T0))
    assert len(h.tick(T0 + 10 * S)) == 1
    assert h.tick(T0 + 290 * S) == []
    (resolved,) = h.tick(T0 + 310 * S)
    assert resolved["status"] == "resolved"


def test_routes_with_continue_and_group_by_all(store: NotifyStore) -> None:
    config = webhook_config(
        {
            "root": "http://127.0.0.1:1/",
            "db": "http://127.0.0.1:2/",
            "pager": "http://127.0.0.1:3/",
        },
        group_wait="10s",
        routes=[
            {"receiver": "db", "matchers": ['team="db"'], "continue": True, "group_by": ["..."]},
            {"receiver": "pager", "matchers": ['severity=~"crit.*"']},
        ],
    )
    h = Harness(store, config)
    ends = T0 + 600 * S
    h.put(T0, alert("Down", starts=T0, ends=ends, team="db", severity="critical", instance="1"))
    h.put(T0, alert("Down", starts=T0, ends=ends, team="db", severity="critical", instance="2"))
    h.put(T0, alert("Slow", starts=T0, ends=ends, team="web", severity="warning"))
    messages = h.tick(T0 + 10 * S)
    got = sorted(
        (m["receiver"], tuple(sorted(m["groupLabels"].items())), len(m["alerts"])) for m in messages
    )
    assert got == [
        (
            "db",
            (("alertname", "Down"), ("instance", "1"), ("severity", "critical"), ("team", "db")),
            1,
        ),
        (
            "db",
            (("alertname", "Down"), ("instance", "2"), ("severity", "critical"), ("team", "db")),
            1,
        ),
        ("pager", (("alertname", "Down"),), 2),
        ("root", (("alertname", "Slow"),), 1),
    ]
    keys = {m["receiver"]: m["groupKey"] for m in messages}
    assert keys["pager"] == '{}/{severity=~"crit.*"}:{alertname="Down"}'
    assert keys["root"] == '{}:{alertname="Slow"}'


def test_inhibition_mutes_matching_targets_while_the_source_fires(store: NotifyStore) -> None:
    inhibit = [
        {
            "source_matchers": ['alertname="ServiceDown"'],
            "target_matchers": ['alertname="HighErrorRate"'],
            "equal": ["service"],
        }
    ]
    h = Harness(store, cfg(inhibit=inhibit, group_by=["alertname", "service"]))
    ends = T0 + 600 * S
    h.put(T0, alert("ServiceDown", starts=T0, ends=ends, service="shop"))
    h.put(T0, alert("HighErrorRate", starts=T0, ends=ends, service="shop"))
    h.put(T0, alert("HighErrorRate", starts=T0, ends=ends, service="cart"))
    messages = h.tick(T0 + 10 * S)
    got = sorted((m["groupLabels"]["alertname"], m["groupLabels"]["service"]) for m in messages)
    # shop's error-rate alert is muted by shop being down; cart's is not.
    assert got == [("HighErrorRate", "cart"), ("ServiceDown", "shop")]
    # The source resolves: the target is no longer muted and gets through.
    h.put(T0 + 20 * S, alert("ServiceDown", starts=T0, ends=T0 + 20 * S, service="shop"))
    messages = h.tick(T0 + 30 * S)
    got3 = sorted(
        (m["groupLabels"]["alertname"], m["groupLabels"]["service"], m["status"]) for m in messages
    )
    assert got3 == [("HighErrorRate", "shop", "firing"), ("ServiceDown", "shop", "resolved")]


def test_an_alert_matching_both_sides_does_not_inhibit_itself(store: NotifyStore) -> None:
    inhibit = [
        {
            "source_matchers": ['severity="critical"'],
            "target_matchers": ['team="db"'],
            "equal": ["team"],
        }
    ]
    h = Harness(store, cfg(inhibit=inhibit))
    ends = T0 + 600 * S
    h.put(T0, alert("Both", starts=T0, ends=ends, severity="critical", team="db"))
    h.put(T0, alert("Target", starts=T0, ends=ends, severity="warning", team="db"))
    messages = h.tick(T0 + 10 * S)
    assert [m["groupLabels"]["alertname"] for m in messages] == ["Both"]


def test_silences_mute_what_they_match_and_nothing_else(store: NotifyStore) -> None:
    h = Harness(store, cfg(group_by=["alertname", "instance"]))
    body = {
        "matchers": [
            {"name": "alertname", "value": "Down", "isRegex": False},
            {"name": "instance", "value": "db-.*", "isRegex": True},
        ],
        "endsAt": "2100-01-01T00:00:00Z",
        "createdBy": "test",
        "comment": "maintenance",
    }
    silence = h.silences.put(silence_from_api(body, T0), T0)
    ends = T0 + 600 * S
    for instance in ("db-1", "db-2", "web-1"):
        h.put(T0, alert("Down", starts=T0, ends=ends, instance=instance))
    h.put(T0, alert("Slow", starts=T0, ends=ends, instance="db-1"))
    got = sorted(
        (m["groupLabels"]["alertname"], m["groupLabels"]["instance"]) for m in h.tick(T0 + 10 * S)
    )
    assert got == [("Down", "web-1"), ("Slow", "db-1")]
    h.silences.expire(silence.id, T0 + 15 * S)
    unmuted = sorted(m["groupLabels"]["instance"] for m in h.tick(T0 + 30 * S))
    assert unmuted == ["db-1", "db-2"]


def test_the_notification_log_survives_a_restart(store: NotifyStore, tmp_path: Path) -> None:
    h = Harness(store, cfg())
    h.put(T0, alert("Down", starts=T0, ends=T0 + 600 * S))
    assert len(h.tick(T0 + 10 * S)) == 1
    # A new dispatcher on the same store (a restart) that hears of the same alert does
    # not notify again before the repeat interval: it knows the receiver was told.
    again = Harness(store, cfg())
    again.put(T0 + 20 * S, alert("Down", starts=T0, ends=T0 + 600 * S))
    assert again.tick(T0 + 20 * S) == []
    assert len(again.tick(T0 + 80 * S)) == 1
