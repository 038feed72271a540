"""A rule group: its rules evaluated in order at one timestamp, and their output written.

As in Prometheus (rules/group.go): each rule's samples are appended and committed before
the next rule runs (so a recording rule's output is visible to later rules of the group
at the same timestamp); series a rule produced last time but not now get a stale
marker; after a restart, ``for`` state is restored from ``ALERTS_FOR_STATE``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from watchkeeper.errors import QueryError
from watchkeeper.monitor.model import (
    STALE_NAN,
    Alert,
    Appendable,
    Labels,
    Matcher,
    MatchType,
    Queryable,
    is_stale_nan,
)
from watchkeeper.monitor.promql.value import Sample
from watchkeeper.monitor.rules.alerting import (
    AlertingRule,
    QueryFunc,
    RecordingRule,
    Rule,
    generator_url,
)
from watchkeeper.monitor.rules.rulefile import GroupSpec

__all__ = ["EvalContext", "Group"]

log = logging.getLogger("watchkeeper.monitor.rules")


@dataclass
class EvalContext:
    """What a group needs to evaluate: the query function, where outputs go, and options."""

    query: QueryFunc
    appendable: Appendable
    queryable: Queryable | None = None  # for restoring ``for`` state
    # Held while appending and committing: the store has one writer at a time.
    write_lock: contextlib.AbstractContextManager[object] = field(default_factory=threading.RLock)
    resend_delay_ms: int = 60_000
    outage_tolerance_ms: int = 3_600_000
    for_grace_period_ms: int = 600_000
    external_url: str = ""
    external_labels: dict[str, str] = field(default_factory=dict)


class Group:
    def __init__(self, spec: GroupSpec, default_interval_ms: int, ctx: EvalContext) -> None:
        self.spec = spec
        self.name = spec.name
        self.file = spec.file
        self.interval_ms = spec.interval_ms or default_interval_ms
        self.rules: list[Rule] = [
            AlertingRule(r, external_labels=ctx.external_labels, external_url=ctx.external_url)
            if r.kind == "alert"
            else RecordingRule(r)
            for r in spec.rules
        ]
        self.previous: list[dict[Labels, None]] = [{} for _ in self.rules]
        self.last_eval_ms = 0
        self.eval_duration_s = 0.0
        self.evaluations = 0
        self.should_restore = True
        self.rejected_samples = 0

    @property
    def key(self) -> tuple[str, str]:
        return (self.file, self.name)

    def offset_ms(self) -> int:
        """Where in its interval this group runs, spread by a hash like Prometheus'."""
        return zlib.crc32(f"{self.file}\x00{self.name}".encode()) % self.interval_ms

    def eval_timestamp(self, now_ms: int) -> int:
        """The latest aligned evaluation time at or before ``now_ms``."""
        offset = self.offset_ms()
        return now_ms - ((now_ms - offset) % self.interval_ms)

    def alerting_rules(self) -> list[AlertingRule]:
        return [r for r in self.rules if isinstance(r, AlertingRule)]

    def eval(self, ts_ms: int, ctx: EvalContext) -> list[Alert]:
        """Evaluate every rule at ``ts_ms``, write outputs; returns the alerts due to send."""
        started = time.perf_counter()
        due: list[Alert] = []
        for i, rule in enumerate(self.rules):
            t0 = time.perf_counter()
            try:
                samples = rule.eval(ts_ms, ctx.query, self.spec.limit)
            except QueryError as exc:
                rule.record_outcome(str(exc), t0, ts_ms)
                continue
            except Exception as exc:  # a bug in one rule must not stop the others
                log.exception("rule %r of group %r failed", rule.name, self.name)
                rule.record_outcome(f"internal error: {exc}", t0, ts_ms)
                continue
            rule.record_outcome("", t0, ts_ms)
            if isinstance(rule, AlertingRule):
                url = generator_url(ctx.external_url, rule.spec.expr)
                due.extend(rule.due_alerts(ts_ms, ctx.resend_delay_ms, self.interval_ms, url))
            self.previous[i] = self._write(samples, self.previous[i], ts_ms, ctx)
        self.last_eval_ms = ts_ms
        self.eval_duration_s = time.perf_counter() - started
        self.evaluations += 1
        return due

    def _write(
        self, samples: Sequence[Sample], previous: dict[Labels, None], ts_ms: int, ctx: EvalContext
    ) -> dict[Labels, None]:
        returned: dict[Labels, None] = {}
        with ctx.write_lock:
            for s in samples:
                if ctx.appendable.append(s.labels, ts_ms, s.value):
                    returned[s.labels] = None
                else:
                    self.rejected_samples += 1
            for labels in previous:
                if labels not in returned:  # no longer produced: mark it stale
                    ctx.appendable.append(labels, ts_ms, STALE_NAN)
            ctx.appendable.commit()
        return returned

    def mark_all_stale(self, ts_ms: int, ctx: EvalContext) -> None:
        """The group was removed by a reload: its series end now."""
        with ctx.write_lock:
            for previous in self.previous:
                for labels in previous:
                    ctx.appendable.append(labels, ts_ms, STALE_NAN)
            ctx.appendable.commit()
        self.previous = [{} for _ in self.rules]

    def copy_state_from(self, old: Group) -> None:
        """After a reload: carry over alert state and output series of identical rules."""
        by_key: dict[tuple[str, str, str], list[int]] = {}
        for j, rule in enumerate(old.rules):
            by_key.setdefault(_rule_key(rule), []).append(j)
        for i, rule in enumerate(self.rules):
            matches = by_key.get(_rule_key(rule))
            if not matches:
                continue
            j = matches.pop(0)
            self.previous[i] = old.previous[j]
            old_rule = old.rules[j]
            if isinstance(rule, AlertingRule) and isinstance(old_rule, AlertingRule):
                rule.copy_state_from(old_rule)
        self.last_eval_ms, self.eval_duration_s = old.last_eval_ms, old.eval_duration_s
        self.evaluations = old.evaluations
        self.should_restore = old.should_restore

    def restore_for_state(self, ts_ms: int, ctx: EvalContext) -> None:
        """Prometheus' RestoreForState: continue ``for`` timers from ``ALERTS_FOR_STATE``."""
        self.should_restore = False
        for rule in self.alerting_rules():
            hold = rule.spec.hold_ms
            if hold < ctx.for_grace_period_ms or ctx.queryable is None:
                # It would wait at least the grace period anyway: no restore needed.
                rule.restored = True
                continue
            for alert in list(rule.active.values()):
                last = _last_sample(
                    ctx.queryable,
                    rule.for_state_labels(alert),
                    ts_ms - ctx.outage_tolerance_ms,
                    ts_ms,
                )
                if last is None or is_stale_nan(last[1]):
                    continue
                down_at_ms = (last[0] // 1000) * 1000
                restored_active_ms = int(last[1]) * 1000
                remaining = hold - (down_at_ms - restored_active_ms)
                if remaining <= 0:
                    pass  # it was firing when we went down: it fires again at the next eval
                elif remaining < ctx.for_grace_period_ms:
                    restored_active_ms = ts_ms + ctx.for_grace_period_ms - hold
                else:
                    restored_active_ms += ts_ms - down_at_ms
                alert.active_at_ms = restored_active_ms
            rule.restored = True


def _rule_key(rule: Rule) -> tuple[str, str, str]:
    return (rule.kind, rule.name, repr(rule.spec.labels))


def _last_sample(
    queryable: Queryable, labels: Labels, mint_ms: int, maxt_ms: int
) -> tuple[int, float] | None:
    matchers = [Matcher.of(k, MatchType.EQUAL, v) for k, v in labels]
    for series in queryable.select(matchers, mint_ms, maxt_ms):
        if series.labels == labels and len(series.timestamps):
            return int(series.timestamps[-1]), float(series.values[-1])
    return None
