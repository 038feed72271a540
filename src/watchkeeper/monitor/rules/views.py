"""Rule groups and alerts in the exact JSON shapes of Prometheus' ``/api/v1/rules`` and
``/api/v1/alerts`` (web/api/v1/api.go), so Grafana and other clients read them unchanged."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from watchkeeper.monitor.rules.alerting import ActiveAlert, AlertingRule, AlertState, Rule
from watchkeeper.monitor.rules.gofmt import go_float_e
from watchkeeper.monitor.rules.group import Group

__all__ = ["alert_json", "alerts_json", "group_json", "rfc3339"]

_ZERO_TIME = "0001-01-01T00:00:00Z"


def rfc3339(ms: int) -> str:
    """Go's RFC3339Nano in UTC: fractional seconds without trailing zeros."""
    if ms <= 0:
        return _ZERO_TIME
    moment = datetime.fromtimestamp(ms // 1000, UTC)
    frac = f"{ms % 1000:03d}".rstrip("0")
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + "Z"


def alert_json(alert: ActiveAlert) -> dict[str, Any]:
    out: dict[str, Any] = {
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "state": str(alert.state),
        "activeAt": rfc3339(alert.active_at_ms),
        "value": go_float_e(alert.value),
    }
    if alert.keep_firing_since_ms:
        out["keepFiringSince"] = rfc3339(alert.keep_firing_since_ms)
    return out


def _active(rule: AlertingRule) -> list[ActiveAlert]:
    alerts = [a for a in list(rule.active.values()) if a.state is not AlertState.INACTIVE]
    return sorted(alerts, key=lambda a: a.labels)


def _rule_json(rule: Rule) -> dict[str, Any]:
    common: dict[str, Any] = {
        "name": rule.name,
        "query": rule.spec.expr.strip(),
        "health": rule.health,
        "evaluationTime": rule.eval_duration_s,
        "lastEvaluation": rfc3339(rule.last_eval_ms),
    }
    if rule.last_error:
        common["lastError"] = rule.last_error
    if isinstance(rule, AlertingRule):
        return {
            "state": "inactive" if rule.state is AlertState.INACTIVE else str(rule.state),
            **common,
            "duration": rule.spec.hold_ms / 1000,
            "keepFiringFor": rule.spec.keep_firing_for_ms / 1000,
            "labels": dict(rule.spec.labels),
            "annotations": dict(rule.spec.annotations),
            "alerts": [alert_json(a) for a in _active(rule)],
            "type": "alerting",
        }
    if rule.spec.labels:
        common["labels"] = dict(rule.spec.labels)
    return {**common, "type": "recording"}


def group_json(group: Group) -> dict[str, Any]:
    return {
        "name": group.name,
        "file": group.file,
        "rules": [_rule_json(r) for r in group.rules],
        "interval": group.interval_ms / 1000,
        "limit": group.spec.limit,
        "evaluationTime": group.eval_duration_s,
        "lastEvaluation": rfc3339(group.last_eval_ms),
    }


def alerts_json(groups: Sequence[Group]) -> list[dict[str, Any]]:
    return [alert_json(a) for g in groups for r in g.alerting_rules() for a in _active(r)]
