"""The alerts page's data: alerts from the rules engine and the notifier, silences,
and the notification log with every delivery attempt.

- pending and firing alerts come from the rules engine (``ApiDeps.alerts``, the
  ``/api/v1/alerts`` shape); alerts posted to the notifier by others (a Prometheus,
  ``amtool``) are shown as firing too, and the notifier's resolved alerts (kept for a
  while, as Alertmanager does) as resolved;
- each row says whether a silence or an inhibition mutes it (the notifier decides);
- silences are created from an alert's labels (``silence_body``), listed and expired
  through the notifier itself, with its validation and persistence.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from watchkeeper.monitor.notify.matchers import MatcherError, parse_duration_ms, parse_matcher
from watchkeeper.monitor.notify.silences import format_time
from watchkeeper.monitor.web.console.context import ConsoleContext

__all__ = [
    "AlertRow",
    "AlertsPage",
    "build_alerts",
    "matchers_text",
    "silence_body",
]

MAX_LOG = 50
MAX_DURATION_S = 90 * 86400
# Labels that identify an alert instance; the silence form suggests these as matchers.
_IDENTIFYING = ("alertname", "service", "slo", "severity", "job", "instance", "burn_tier")


@dataclass
class AlertRow:
    state: str  # pending | firing | resolved
    labels: dict[str, str]
    annotations: dict[str, str]
    value: str = ""
    since_ms: int = 0
    ends_ms: int = 0
    silenced_by: list[str] = field(default_factory=list)
    inhibited_by: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")

    @property
    def muted(self) -> bool:
        return bool(self.silenced_by or self.inhibited_by)


@dataclass
class AlertsPage:
    alerts: list[AlertRow] = field(default_factory=list)
    silences: list[dict[str, Any]] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    notifier: bool = False


def _ms(text: object) -> int:
    if not isinstance(text, str) or not text or text.startswith("0001-"):
        return 0
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return 0


def _key(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


_ORDER = {"firing": 0, "pending": 1, "resolved": 2}


def build_alerts(ctx: ConsoleContext, now_ms: int | None = None) -> AlertsPage:
    now = int(time.time() * 1000) if now_ms is None else now_ms
    page = AlertsPage(notifier=ctx.notifier is not None)
    rows: dict[tuple[tuple[str, str], ...], AlertRow] = {}
    for a in ctx.api.alerts():
        labels = {str(k): str(v) for k, v in dict(a.get("labels", {})).items()}
        row = AlertRow(
            state=str(a.get("state", "firing")),
            labels=labels,
            annotations={str(k): str(v) for k, v in dict(a.get("annotations", {})).items()},
            value=str(a.get("value", "")),
            since_ms=_ms(a.get("activeAt")),
        )
        rows[_key(labels)] = row
    n = ctx.notifier
    if n is not None:
        for entry in n.alerts.list():
            key = _key(entry.labels)
            resolved = entry.resolved_at(now)
            found = rows.get(key)
            if found is None:
                row = AlertRow(
                    state="resolved" if resolved else "firing",
                    labels=dict(entry.labels),
                    annotations=dict(entry.annotations),
                    since_ms=entry.starts_at_ms,
                )
                rows[key] = row
            else:
                row = found
            if resolved:
                row.ends_ms = entry.ends_at_ms
            status = n.alert_status(entry, now)
            row.silenced_by = list(status.get("silencedBy", []))
            row.inhibited_by = list(status.get("inhibitedBy", []))
        page.silences = [s.to_api(now) for s in n.silences.list(now)]
        page.silences.sort(key=lambda s: (s["status"]["state"] == "expired", s["endsAt"]))
        for out, attempts in n.store.notifications(limit=MAX_LOG):
            page.notifications.append(
                {
                    "id": out.id,
                    "receiver": out.receiver,
                    "integration": out.integration,
                    "group_key": out.group_key,
                    "status": out.status,
                    "alert_status": str(out.message.get("status", "")),
                    "created_ms": out.created_ms,
                    "last_error": out.last_error,
                    "attempts": [
                        {
                            "time_ms": at.time_ms,
                            "ok": at.ok,
                            "status_code": at.status_code,
                            "error": at.error,
                            "duration_ms": at.duration_ms,
                        }
                        for at in attempts
                    ],
                }
            )
        page.counts = dict(n.counts())
    page.alerts = sorted(rows.values(), key=lambda r: (_ORDER.get(r.state, 3), -r.since_ms, r.name))
    return page


def matchers_text(labels: Mapping[str, str]) -> str:
    """The silence form's suggested matchers for an alert, one per line."""
    keys = [k for k in _IDENTIFYING if k in labels] or sorted(labels)
    return "\n".join(f"{k}={_quoted(labels[k])}" for k in keys)


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def silence_body(
    matchers: str, duration: str, author: str, comment: str, now_ms: int
) -> dict[str, object]:
    """A postable silence (Alertmanager API v2) from the console's form; ValueError
    says which field is wrong. The notifier validates the rest (``silence_from_api``)."""
    lines = [line.strip().rstrip(",") for line in matchers.splitlines() if line.strip()]
    if not lines:
        raise ValueError(
            'matchers: give at least one, one per line, e.g. alertname="HighErrorRate"'
        )
    items = []
    for i, line in enumerate(lines, 1):
        try:
            m = parse_matcher(line)
        except MatcherError as exc:
            raise ValueError(f"matchers line {i}: {exc}") from None
        op = m.type.value
        items.append(
            {
                "name": m.name,
                "value": m.value,
                "isRegex": op in ("=~", "!~"),
                "isEqual": op in ("=", "=~"),
            }
        )
    try:
        duration_ms = parse_duration_ms(duration, "duration")
    except MatcherError:
        raise ValueError(
            f"duration: {duration!r} is not a duration such as 30m, 2h or 1d"
        ) from None
    if not 0 < duration_ms <= MAX_DURATION_S * 1000:
        raise ValueError(f"duration: between 1s and 90d, got {duration!r}")
    return {
        "matchers": items,
        "startsAt": format_time(now_ms),
        "endsAt": format_time(now_ms + duration_ms),
        "createdBy": author,
        "comment": comment,
    }
