"""Alerting and recording rules: one evaluation each, with Prometheus' semantics.

The alert state machine is Prometheus' (rules/alerting.go): a result series makes an
alert pending at ``ts``; it fires once it has been pending for ``for``; when it leaves
the result it resolves (or keeps firing for ``keep_firing_for``), and a resolved alert
is kept for 15 minutes so its resolution is re-sent. ``ALERTS`` and ``ALERTS_FOR_STATE``
samples are produced only once the rule is ``restored`` (after a restart, when the
group has restored ``for`` state), exactly as Prometheus does.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from urllib.parse import quote

from watchkeeper.errors import QueryError
from watchkeeper.monitor.model import Alert, Labels, labels_from
from watchkeeper.monitor.promql.value import Sample, Scalar, Value, Vector
from watchkeeper.monitor.rules.rulefile import RuleSpec
from watchkeeper.monitor.rules.template import TemplateData

__all__ = [
    "RESOLVED_RETENTION_MS",
    "ActiveAlert",
    "AlertState",
    "AlertingRule",
    "QueryFunc",
    "RecordingRule",
    "Rule",
    "query_vector",
]

# How long a resolved alert is kept (and re-sent as resolved), as in Prometheus.
RESOLVED_RETENTION_MS = 15 * 60_000

# What rules evaluate with: an instant query at a millisecond timestamp (Engine.instant_query).
QueryFunc = Callable[[str, int], Value]


class AlertState(enum.IntEnum):
    INACTIVE = 0
    PENDING = 1
    FIRING = 2

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(slots=True)
class ActiveAlert:
    labels: Labels
    annotations: tuple[tuple[str, str], ...]
    value: float
    active_at_ms: int
    state: AlertState = AlertState.PENDING
    fired_at_ms: int = 0
    resolved_at_ms: int = 0
    last_sent_at_ms: int = 0
    valid_until_ms: int = 0
    keep_firing_since_ms: int = 0

    def needs_sending(self, ts_ms: int, resend_delay_ms: int) -> bool:
        if self.state is AlertState.PENDING:
            return False
        if self.resolved_at_ms > self.last_sent_at_ms:  # resolved since the last send
            return True
        return self.last_sent_at_ms + resend_delay_ms < ts_ms


def query_vector(query: QueryFunc, expr: str, ts_ms: int) -> list[Sample]:
    """The expression's samples at ``ts_ms``; a scalar counts as one unlabelled sample."""
    result = query(expr, ts_ms)
    if isinstance(result, Vector):
        return result.samples
    if isinstance(result, Scalar):
        return [Sample((), ts_ms, result.value)]
    raise QueryError("rule result is not a vector or scalar", "execution")


class _RuleBase:
    def __init__(self, spec: RuleSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.health = "unknown"
        self.last_error = ""
        self.last_eval_ms = 0
        self.eval_duration_s = 0.0

    def record_outcome(self, error: str, started: float, ts_ms: int) -> None:
        self.health = "err" if error else "ok"
        self.last_error = error
        self.last_eval_ms = ts_ms
        self.eval_duration_s = time.perf_counter() - started


class RecordingRule(_RuleBase):
    """``record: name`` — the expression's result under a new metric name and labels."""

    kind = "recording"

    def eval(self, ts_ms: int, query: QueryFunc, limit: int = 0) -> list[Sample]:
        out: list[Sample] = []
        seen: set[Labels] = set()
        for s in query_vector(query, self.spec.expr, ts_ms):
            merged = dict(s.labels)
            merged["__name__"] = self.name
            merged.update(self.spec.labels)
            labels = labels_from(merged)
            if labels in seen:
                raise QueryError(
                    "vector contains metrics with the same labelset after applying rule labels",
                    "execution",
                )
            seen.add(labels)
            out.append(Sample(labels, ts_ms, s.value))
        if limit and len(out) > limit:
            raise QueryError(f"exceeded limit of {limit} with {len(out)} series", "execution")
        return out


class AlertingRule(_RuleBase):
    """``alert: Name`` — the state machine over the expression's result series."""

    kind = "alerting"

    def __init__(
        self,
        spec: RuleSpec,
        *,
        external_labels: Mapping[str, str] | None = None,
        external_url: str = "",
    ) -> None:
        super().__init__(spec)
        self.external_labels = dict(external_labels or {})
        self.external_url = external_url
        self.active: dict[Labels, ActiveAlert] = {}
        self.restored = False

    @property
    def state(self) -> AlertState:
        return max((a.state for a in list(self.active.values())), default=AlertState.INACTIVE)

    def _expand(self, labels: Labels, value: float) -> tuple[Labels, tuple[tuple[str, str], ...]]:
        data = TemplateData(dict(labels), value, self.external_labels, self.external_url)
        merged = {k: v for k, v in labels if k != "__name__"}
        for name, tmpl in self.spec.label_templates:
            merged[name] = tmpl.expand(data)
        merged["alertname"] = self.name
        annotations = tuple(
            (name, tmpl.expand(data)) for name, tmpl in self.spec.annotation_templates
        )
        return labels_from(merged), annotations

    def eval(self, ts_ms: int, query: QueryFunc, limit: int = 0) -> list[Sample]:
        """Advance every alert to ``ts_ms``; returns the ALERTS / ALERTS_FOR_STATE samples."""
        found: dict[Labels, ActiveAlert] = {}
        for s in query_vector(query, self.spec.expr, ts_ms):
            labels, annotations = self._expand(s.labels, s.value)
            if labels in found:
                raise QueryError(
                    "vector contains metrics with the same labelset after applying alert labels",
                    "execution",
                )
            found[labels] = ActiveAlert(labels, annotations, s.value, ts_ms)
        for labels, fresh in found.items():
            alert = self.active.get(labels)
            if alert is not None and alert.state is not AlertState.INACTIVE:
                alert.value = fresh.value
                alert.annotations = fresh.annotations
                continue
            self.active[labels] = fresh
        out: list[Sample] = []
        active_count = 0
        hold, keep = self.spec.hold_ms, self.spec.keep_firing_for_ms
        for labels, alert in list(self.active.items()):
            if labels not in found:
                keep_firing = False
                if alert.state is AlertState.FIRING and keep > 0:
                    if not alert.keep_firing_since_ms:
                        alert.keep_firing_since_ms = ts_ms
                    keep_firing = ts_ms - alert.keep_firing_since_ms < keep
                # A resolved alert is kept (and re-sent) for the retention period.
                if alert.state is AlertState.PENDING or (
                    alert.resolved_at_ms and ts_ms - alert.resolved_at_ms > RESOLVED_RETENTION_MS
                ):
                    del self.active[labels]
                if alert.state is not AlertState.INACTIVE and not keep_firing:
                    alert.state = AlertState.INACTIVE
                    alert.resolved_at_ms = ts_ms
                if not keep_firing:
                    continue
            else:
                alert.keep_firing_since_ms = 0
            active_count += 1
            if alert.state is AlertState.PENDING and ts_ms - alert.active_at_ms >= hold:
                alert.state = AlertState.FIRING
                alert.fired_at_ms = ts_ms
            if self.restored:
                out.append(Sample(self._series(alert, "ALERTS", True), ts_ms, 1.0))
                out.append(
                    Sample(
                        self._series(alert, "ALERTS_FOR_STATE", False),
                        ts_ms,
                        float(alert.active_at_ms // 1000),
                    )
                )
        if limit and active_count > limit:
            self.active.clear()
            raise QueryError(f"exceeded limit of {limit} with {active_count} alerts", "execution")
        return out

    def _series(self, alert: ActiveAlert, metric: str, with_state: bool) -> Labels:
        merged = dict(self.spec.labels)
        merged.update(alert.labels)
        merged["__name__"] = metric
        merged["alertname"] = self.name
        if with_state:
            merged["alertstate"] = str(alert.state)
        return labels_from(merged)

    def for_state_labels(self, alert: ActiveAlert) -> Labels:
        return self._series(alert, "ALERTS_FOR_STATE", False)

    def due_alerts(
        self, ts_ms: int, resend_delay_ms: int, interval_ms: int, generator_url: str
    ) -> list[Alert]:
        """Alerts to (re)send now (Prometheus' sendAlerts); marks them sent."""
        out: list[Alert] = []
        delta = max(resend_delay_ms, interval_ms)
        for alert in list(self.active.values()):
            if not alert.needs_sending(ts_ms, resend_delay_ms):
                continue
            alert.last_sent_at_ms = ts_ms
            # Valid for four sends, so two missed evaluations or sends don't resolve it.
            alert.valid_until_ms = ts_ms + 4 * delta
            ends = alert.resolved_at_ms or alert.valid_until_ms
            out.append(
                Alert(
                    labels=alert.labels,
                    annotations=alert.annotations,
                    starts_at_ms=alert.fired_at_ms,
                    ends_at_ms=ends,
                    generator_url=generator_url,
                )
            )
        return out

    def copy_state_from(self, old: AlertingRule) -> None:
        """Keep alert state across a reload that left this rule in place (CopyState)."""
        self.active = {k: replace(v) for k, v in old.active.items()}
        self.restored = old.restored
        self.health, self.last_error = old.health, old.last_error
        self.last_eval_ms, self.eval_duration_s = old.last_eval_ms, old.eval_duration_s


Rule = AlertingRule | RecordingRule


def generator_url(external_url: str, expr: str) -> str:
    """Prometheus' link to the expression in its graph page."""
    return f"{external_url.rstrip('/')}/graph?g0.expr={quote(expr, safe='')}&g0.tab=1"
