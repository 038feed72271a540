"""The alerts the notifier knows: ingestion and merging with Alertmanager 0.25's rules.

An alert posted without an end gets ``now + resolve_timeout`` and is marked as a
timeout (a later explicit end wins over it); an alert that overlaps the stored
one with the same labels is merged (earliest start, the younger alert's labels
and annotations, the latest explicit end). Everything is in epoch milliseconds.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace

from watchkeeper.monitor.model import Alert
from watchkeeper.monitor.notify.matchers import fingerprint

__all__ = ["AlertEntry", "AlertStore", "entry_from_alert", "sort_key"]

MAX_LABELS = 128
MAX_VALUE_BYTES = 16 << 10


@dataclass(frozen=True, slots=True)
class AlertEntry:
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at_ms: int
    ends_at_ms: int
    generator_url: str
    updated_at_ms: int
    timeout: bool
    fingerprint: str

    def resolved_at(self, now_ms: int) -> bool:
        return self.ends_at_ms != 0 and self.ends_at_ms <= now_ms

    def merge(self, other: AlertEntry) -> AlertEntry:
        """Alertmanager's ``Alert.Merge``: ``other`` is the younger one unless older."""
        if other.updated_at_ms < self.updated_at_ms:
            return other.merge(self)
        res = other
        if self.starts_at_ms < other.starts_at_ms:
            res = replace(res, starts_at_ms=self.starts_at_ms)
        if other.resolved_at(other.updated_at_ms):
            if self.resolved_at(self.updated_at_ms) and self.ends_at_ms > other.ends_at_ms:
                res = replace(res, ends_at_ms=self.ends_at_ms)
        elif self.ends_at_ms > other.ends_at_ms and not self.timeout:
            res = replace(res, ends_at_ms=self.ends_at_ms)
        return res


def entry_from_alert(alert: Alert, now_ms: int, resolve_timeout_ms: int) -> AlertEntry:
    """Normalise one incoming alert as Alertmanager's API v2 does; ValueError when invalid."""
    labels = dict(alert.labels)
    if not labels:
        raise ValueError("an alert needs at least one label")
    if len(labels) > MAX_LABELS:
        raise ValueError(f"an alert has at most {MAX_LABELS} labels, got {len(labels)}")
    for name, value in (*labels.items(), *alert.annotations):
        if len(value.encode()) > MAX_VALUE_BYTES:
            raise ValueError(f"label or annotation {name!r} is longer than {MAX_VALUE_BYTES} bytes")
    starts, ends, timeout = alert.starts_at_ms, alert.ends_at_ms, False
    if starts <= 0:
        starts = ends if ends > 0 else now_ms
    if ends <= 0:
        ends, timeout = now_ms + resolve_timeout_ms, True
    if ends < starts:
        raise ValueError(
            f"alert {labels}: endsAt must not be before startsAt (start {starts}, end {ends})"
        )
    return AlertEntry(
        labels=labels,
        annotations=dict(alert.annotations),
        starts_at_ms=starts,
        ends_at_ms=ends,
        generator_url=alert.generator_url,
        updated_at_ms=now_ms,
        timeout=timeout,
        fingerprint=fingerprint(tuple(labels.items())),
    )


class AlertStore:
    """Every alert by fingerprint (Alertmanager's in-memory provider)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._alerts: dict[str, AlertEntry] = {}

    def put(self, alert: AlertEntry) -> AlertEntry:
        """Store ``alert`` merged with an overlapping stored one; returns what is stored."""
        with self._lock:
            old = self._alerts.get(alert.fingerprint)
            if old is not None and (
                (old.starts_at_ms < alert.ends_at_ms < old.ends_at_ms)
                or (old.starts_at_ms < alert.starts_at_ms < old.ends_at_ms)
            ):
                alert = old.merge(alert)
            self._alerts[alert.fingerprint] = alert
            return alert

    def list(self) -> list[AlertEntry]:
        with self._lock:
            return list(self._alerts.values())

    def gc(self, now_ms: int) -> None:
        """Drop resolved alerts (Alertmanager does this every 30 minutes)."""
        with self._lock:
            for fp, alert in list(self._alerts.items()):
                if alert.resolved_at(now_ms):
                    del self._alerts[fp]


def sort_key(alert: AlertEntry) -> tuple[object, ...]:
    """Alertmanager's ``AlertSlice`` order: by job, then instance, then all labels."""
    parts: list[object] = []
    for name in ("job", "instance"):
        value = alert.labels.get(name)
        parts.append((0, value) if value is not None else (1, ""))
    parts.append(sorted(alert.labels.items()))
    return tuple(parts)
