"""The alert state machine and group evaluation, driven by explicit timestamps.

Inputs go into an in-memory store; the rule runs through the real PromQL engine.
"""

from __future__ import annotations

from watchkeeper.monitor.model import Labels, Matcher, MatchType, is_stale_nan
from watchkeeper.monitor.promql import Engine
from watchkeeper.monitor.rules import AlertState, EvalContext, Group, parse_rule_text
from watchkeeper.monitor.rules.alerting import RESOLVED_RETENTION_MS, AlertingRule
from watchkeeper.monitor.storage.memory import MemoryStorage

M = 60_000
T0 = 1_700_000_000_000 - (1_700_000_000_000 % M)
SERIES: Labels = (("__name__", "load"), ("job", "api"))


def setup(rules: str) -> tuple[MemoryStorage, EvalContext, Group]:
    store = MemoryStorage()
    ctx = EvalContext(
        query=Engine(store).instant_query,
        appendable=store,
        queryable=store,
        external_url="http://wk:9099",
    )
    (spec,) = parse_rule_text(rules, "r.yml")
    return store, ctx, Group(spec, M, ctx)


ALERT = """\
groups:
  - name: g
    rules:
      - alert: High
        expr: load > 1
        for: 2m
        keep_firing_for: KEEP
        labels: {severity: page}
        annotations: {summary: 'load {{ $value }} on {{ $labels.job }}'}
"""


def feed(store: MemoryStorage, minute: int, value: float) -> None:
    store.append(SERIES, T0 + minute * M, value)


def rule_of(group: Group) -> AlertingRule:
    (rule,) = group.alerting_rules()
    rule.restored = True
    return rule


def states(group: Group) -> list[str]:
    return [str(a.state) for a in rule_of(group).active.values()]


def test_pending_then_firing_after_for_then_resolved_and_kept() -> None:
    store, ctx, group = setup(ALERT.replace("KEEP", "0s"))
    rule = rule_of(group)
    sent: dict[int, list[object]] = {}
    values = [0, 2, 2, 2, 2, 0]
    for minute, v in enumerate(values):
        feed(store, minute, v)
        sent[minute] = list(group.eval(T0 + minute * M, ctx))
    # 1m: pending, 3m: firing (2m after it became active), 5m: resolved (value 0).
    (alert,) = rule.active.values()
    assert alert.state is AlertState.INACTIVE
    assert alert.active_at_ms == T0 + 1 * M
    assert alert.fired_at_ms == T0 + 3 * M
    assert alert.resolved_at_ms == T0 + 5 * M
    assert sent[1] == []
    assert sent[2] == []
    (first,) = sent[3]
    assert first.labels == (("alertname", "High"), ("job", "api"), ("severity", "page"))  # type: ignore[attr-defined]
    assert first.annotations == (("summary", "load 2 on api"),)  # type: ignore[attr-defined]
    assert first.starts_at_ms == T0 + 3 * M  # type: ignore[attr-defined]
    # Firing: valid for 4 x max(resend delay, interval).
    assert first.ends_at_ms == T0 + 3 * M + 4 * M  # type: ignore[attr-defined]
    assert first.generator_url.startswith("http://wk:9099/graph?g0.expr=load%20%3E%201")  # type: ignore[attr-defined]
    # 4m: last sent at 3m, resend delay 1m not yet *exceeded*: nothing.
    assert sent[4] == []
    (resolved,) = sent[5]
    assert resolved.ends_at_ms == T0 + 5 * M  # type: ignore[attr-defined]
    assert resolved.resolved_at(T0 + 5 * M)  # type: ignore[attr-defined]


def test_resolved_alerts_are_resent_then_dropped_after_15_minutes() -> None:
    store, ctx, group = setup(ALERT.replace("KEEP", "0s"))
    rule = rule_of(group)
    for minute, v in enumerate([2, 2, 2, 0]):
        feed(store, minute, v)
        group.eval(T0 + minute * M, ctx)
    resolved_at = T0 + 3 * M
    resends = 0
    minute = 4
    while rule.active:
        feed(store, minute, 0)
        resends += len(group.eval(T0 + minute * M, ctx))
        minute += 1
    # Kept while now - resolved_at <= 15m (dropped at 19m); re-sent once the resend delay
    # (1m) is exceeded since the last send at 3m: at 5, 7, ..., 17m.
    assert T0 + (minute - 1) * M - resolved_at == RESOLVED_RETENTION_MS + M
    assert resends == 7


def test_keep_firing_for_holds_a_firing_alert() -> None:
    store, ctx, group = setup(ALERT.replace("KEEP", "2m"))
    for minute, v in enumerate([2, 2, 2, 0, 0, 0]):
        feed(store, minute, v)
        group.eval(T0 + minute * M, ctx)
        if minute == 3:
            (alert,) = rule_of(group).active.values()
            assert alert.state is AlertState.FIRING
            assert alert.keep_firing_since_ms == T0 + 3 * M
        if minute == 4:
            assert states(group) == ["firing"]
    assert states(group) == ["inactive"]
    (alert,) = rule_of(group).active.values()
    assert alert.resolved_at_ms == T0 + 5 * M


def test_pending_alert_that_clears_is_forgotten_without_notification() -> None:
    store, ctx, group = setup(ALERT.replace("KEEP", "0s"))
    sent = []
    for minute, v in enumerate([2, 0]):
        feed(store, minute, v)
        sent += group.eval(T0 + minute * M, ctx)
    assert sent == []
    assert rule_of(group).active == {}


def series(store: MemoryStorage, name: str) -> dict[Labels, list[tuple[int, float]]]:
    found = store.select([Matcher.of("__name__", MatchType.EQUAL, name)], 0, 2**62)
    return {
        s.labels: list(zip(s.timestamps.tolist(), s.values.tolist(), strict=True)) for s in found
    }


def test_alerts_and_alerts_for_state_series_with_stale_marker_at_the_end() -> None:
    store, ctx, group = setup(ALERT.replace("KEEP", "0s"))
    rule_of(group)
    for minute, v in enumerate([2, 2, 2, 0]):
        feed(store, minute, v)
        group.eval(T0 + minute * M, ctx)
    alerts = series(store, "ALERTS")
    base = {"__name__": "ALERTS", "alertname": "High", "job": "api", "severity": "page"}
    pending = tuple(sorted({**base, "alertstate": "pending"}.items()))
    firing = tuple(sorted({**base, "alertstate": "firing"}.items()))
    assert [t for t, _ in alerts[pending]][:2] == [T0, T0 + M]
    assert is_stale_nan(alerts[pending][-1][1])
    assert alerts[pending][-1][0] == T0 + 2 * M
    assert alerts[firing][0] == (T0 + 2 * M, 1.0)
    assert is_stale_nan(alerts[firing][-1][1])
    assert alerts[firing][-1][0] == T0 + 3 * M
    (for_state,) = series(store, "ALERTS_FOR_STATE").values()
    assert for_state[0] == (T0, T0 / 1000)


RECORD_THEN_ALERT = """\
groups:
  - name: g
    rules:
      - record: job:load:max
        expr: max by (job) (load)
        labels: {source: rule}
      - alert: High
        expr: job:load:max > 1
"""


def test_a_recording_rule_is_visible_to_later_rules_at_the_same_timestamp() -> None:
    store, ctx, group = setup(RECORD_THEN_ALERT)
    feed(store, 0, 5)
    due = group.eval(T0, ctx)  # no `for`: fires at the first evaluation, from the new series
    assert [dict(a.labels)["job"] for a in due] == ["api"]
    recorded = series(store, "job:load:max")
    assert recorded == {
        (("__name__", "job:load:max"), ("job", "api"), ("source", "rule")): [(T0, 5.0)]
    }


def test_a_failing_rule_reports_its_error_and_the_others_still_run() -> None:
    store, ctx, group = setup(
        "groups:\n  - name: g\n    rules:\n"
        "      - record: dup\n        expr: load or label_replace(load, 'x', 'y', '', '')\n"
        "        labels: {x: same}\n"
        "      - alert: Any\n        expr: load > 0\n"
    )
    feed(store, 0, 1)
    due = group.eval(T0, ctx)
    bad, good = group.rules
    assert bad.health == "err"
    assert "same labelset" in bad.last_error
    assert good.health == "ok"
    assert len(due) == 1


def _restore_case(down_minutes: int, hold: str, grace_ms: int) -> int:
    """active_at (minutes from T0) after a restart, with the alert active since T0."""
    rules = (
        "groups:\n  - name: g\n    rules:\n"
        f"      - alert: A\n        expr: load > 1\n        for: {hold}\n"
    )
    store, ctx, group = setup(rules)
    rule_of(group)
    for minute in range(4):  # pending from T0, last evaluation at 3m
        feed(store, minute, 2)
        group.eval(T0 + minute * M, ctx)
    # Restart: a new group (no state); two evaluations, then restore.
    ctx.for_grace_period_ms = grace_ms
    (spec,) = parse_rule_text(rules, "r.yml")
    fresh = Group(spec, M, ctx)
    restart = 3 + down_minutes
    for minute in (restart, restart + 1):
        feed(store, minute, 2)
        fresh.eval(T0 + minute * M, ctx)
    fresh.restore_for_state(T0 + (restart + 1) * M, ctx)
    (alert,) = fresh.alerting_rules()[0].active.values()
    assert fresh.alerting_rules()[0].restored
    return (alert.active_at_ms - T0) // M


def test_for_state_is_restored_like_prometheus() -> None:
    # for 30m, down 5m, 3m spent pending: the remaining 27m >= grace 10m, so the
    # active time moves forward by the downtime (from the last sample to now).
    assert _restore_case(5, "30m", 600_000) == 0 + (9 - 3)
    # for 12m, 3m spent: remaining 9m < grace 10m: it fires exactly grace after now.
    assert _restore_case(5, "12m", 600_000) == 9 + 10 - 12
    # for 2m < grace: not restored; active since its first evaluation after restart.
    assert _restore_case(5, "2m", 600_000) == 8
    # Down longer than the outage tolerance (1h): nothing to restore from.
    assert _restore_case(70, "30m", 600_000) == 73
