"""Routing, grouping, timing, muting and deduplication: Alertmanager 0.25's dispatcher
and notification pipeline, minus the sending (which goes through the outbox).

Each alert goes to the routes ``RouteNode.match`` picks; per route it joins the
aggregation group of its ``group_by`` labels. A new group flushes after
``group_wait`` (at once if its alert started longer than that ago), then every
``group_interval``. A flush drops silenced and inhibited alerts, then for each
integration of the receiver decides with the notification log whether anything
changed (new firing alerts, newly resolved ones when ``send_resolved``, all
resolved, or ``repeat_interval`` passed). What is to be sent is written to the
outbox together with the new log entry, in one transaction. Empty groups are
removed every 30 s, like Alertmanager's maintenance.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import orjson

from watchkeeper.monitor.notify.alerts import AlertEntry, AlertStore, sort_key
from watchkeeper.monitor.notify.config import Integration, NotifyConfig, RouteNode
from watchkeeper.monitor.notify.inhibit import inhibited_by
from watchkeeper.monitor.notify.silences import Silences
from watchkeeper.monitor.notify.store import NewNotification, NflogEntry, NotifyStore

__all__ = ["Dispatcher", "Group", "integration_names", "needs_update"]

log = logging.getLogger("watchkeeper.monitor.notify")

MAINTENANCE_MS = 30_000
MAX_GROUPS = 10_000


def _labelset(labels: Mapping[str, str]) -> str:
    """Go's ``model.LabelSet.String()``: ``{a="1", b="2"}``."""
    pairs = sorted(f"{k}={orjson.dumps(v).decode()}" for k, v in labels.items())
    return "{" + ", ".join(pairs) + "}"


def integration_names(integrations: Sequence[Integration]) -> list[str]:
    """``webhook[0]``, ``email[0]``, ``webhook[1]``: kind and index among that kind."""
    seen: dict[str, int] = {}
    names = []
    for integ in integrations:
        index = seen.get(integ.kind, 0)
        seen[integ.kind] = index + 1
        names.append(f"{integ.kind}[{index}]")
    return names


def needs_update(
    entry: NflogEntry | None,
    firing: frozenset[str],
    resolved: frozenset[str],
    send_resolved: bool,
    repeat_ms: int,
    now_ms: int,
) -> bool:
    """Alertmanager's ``DedupStage.needsUpdate``."""
    if entry is None:
        return bool(firing)
    if not firing <= entry.firing:
        return True
    if not firing:
        # Everything resolved: tell the receiver (even without send_resolved, so the log
        # forgets the firing alerts) unless it never heard of them.
        return bool(entry.firing)
    if send_resolved and not resolved <= entry.resolved:
        return True
    return entry.time_ms < now_ms - repeat_ms


@dataclass
class Group:
    route: RouteNode
    labels: dict[str, str]
    key: str
    next_flush_ms: int
    alerts: dict[str, AlertEntry] = field(default_factory=dict)
    has_flushed: bool = False


def alert_message(a: AlertEntry, now_ms: int) -> dict[str, object]:
    return {
        "status": "resolved" if a.resolved_at(now_ms) else "firing",
        "labels": dict(a.labels),
        "annotations": dict(a.annotations),
        "startsAt": a.starts_at_ms,
        "endsAt": a.ends_at_ms,
        "generatorURL": a.generator_url,
        "fingerprint": a.fingerprint,
    }


class Dispatcher:
    """All aggregation groups; every method takes the time so tests and the runner agree."""

    def __init__(
        self,
        config: NotifyConfig,
        alerts: AlertStore,
        silences: Silences,
        store: NotifyStore,
        on_enqueued: Callable[[], None] = lambda: None,
    ) -> None:
        self.config = config
        self.alerts = alerts
        self.silences = silences
        self._store = store
        self._on_enqueued = on_enqueued
        self._lock = threading.RLock()
        self._groups: dict[tuple[str, str], Group] = {}
        self._nflog = store.nflog()
        self._next_maintenance_ms = 0

    # --- intake -------------------------------------------------------------------

    def ingest(self, entries: Sequence[AlertEntry], now_ms: int) -> None:
        with self._lock:
            for entry in entries:
                stored = self.alerts.put(entry)
                for route in self.config.route.match(stored.labels):
                    self._insert(route, stored, now_ms)

    def _insert(self, route: RouteNode, alert: AlertEntry, now_ms: int) -> None:
        if route.group_by_all:
            labels = dict(alert.labels)
        else:
            labels = {n: alert.labels[n] for n in route.group_by if n in alert.labels}
        gkey = (route.key, _labelset(labels))
        group = self._groups.get(gkey)
        if group is None:
            if len(self._groups) >= MAX_GROUPS:
                log.warning(
                    "watchkeeper notify: %d groups, dropping alert %s",
                    MAX_GROUPS,
                    alert.fingerprint,
                )
                return
            group = Group(route, labels, f"{route.key}:{gkey[1]}", now_ms + route.group_wait_ms)
            self._groups[gkey] = group
        group.alerts[alert.fingerprint] = alert
        if not group.has_flushed and alert.starts_at_ms + route.group_wait_ms < now_ms:
            group.next_flush_ms = now_ms

    # --- timing -------------------------------------------------------------------

    def next_due_ms(self) -> int:
        with self._lock:
            due = [g.next_flush_ms for g in self._groups.values()]
            return min([*due, self._next_maintenance_ms])

    def run_due(self, now_ms: int) -> None:
        """Flush every group whose timer fired, then maintenance if it is time."""
        with self._lock:
            for group in list(self._groups.values()):
                if group.next_flush_ms <= now_ms:
                    group.next_flush_ms = now_ms + group.route.group_interval_ms
                    group.has_flushed = True
                    self._flush(group, now_ms)
            if now_ms >= self._next_maintenance_ms:
                self._next_maintenance_ms = now_ms + MAINTENANCE_MS
                for key, group in list(self._groups.items()):
                    if not group.alerts:
                        del self._groups[key]
                self.alerts.gc(now_ms - 30 * 60_000)

    # --- muting -------------------------------------------------------------------

    def muted(self, labels: Mapping[str, str], now_ms: int) -> tuple[list[str], list[str]]:
        """(silence ids, inhibiting alert fingerprints) muting ``labels`` now."""
        silenced = list(self.silences.muted_by(labels, now_ms))
        inhibited = inhibited_by(self.config.inhibit_rules, labels, self.alerts.list(), now_ms)
        return silenced, inhibited

    # --- flush --------------------------------------------------------------------

    def _flush(self, group: Group, now_ms: int) -> None:
        if not group.alerts:
            return
        snapshot = [
            a if a.resolved_at(now_ms) else replace(a, ends_at_ms=0) for a in group.alerts.values()
        ]
        snapshot.sort(key=sort_key)
        kept = [a for a in snapshot if not any(self.muted(a.labels, now_ms))]
        if kept:
            self._notify(group, kept, now_ms)
        for a in snapshot:
            current = group.alerts.get(a.fingerprint)
            # Only forget what was not updated since this flush took its snapshot.
            if (
                a.resolved_at(now_ms)
                and current is not None
                and current.updated_at_ms == a.updated_at_ms
            ):
                del group.alerts[a.fingerprint]

    def _notify(self, group: Group, alerts: list[AlertEntry], now_ms: int) -> None:
        receiver = self.config.receivers[group.route.receiver]
        firing = frozenset(a.fingerprint for a in alerts if not a.resolved_at(now_ms))
        resolved = frozenset(a.fingerprint for a in alerts if a.resolved_at(now_ms))
        for integ, name in zip(
            receiver.integrations, integration_names(receiver.integrations), strict=True
        ):
            key = (receiver.name, name, group.key)
            entry = self._nflog.get(key)
            repeat = group.route.repeat_interval_ms
            if not needs_update(entry, firing, resolved, integ.send_resolved, repeat, now_ms):
                continue
            sent = (
                alerts if integ.send_resolved else [a for a in alerts if not a.resolved_at(now_ms)]
            )
            items = []
            if sent:
                message: dict[str, object] = {
                    "receiver": receiver.name,
                    "groupKey": group.key,
                    "groupLabels": group.labels,
                    "externalURL": self.config.external_url,
                    "status": "firing" if firing & {a.fingerprint for a in sent} else "resolved",
                    "alerts": [alert_message(a, now_ms) for a in sent],
                }
                lane = f"{receiver.name}/{name}/{group.key}"
                items.append(NewNotification(lane, receiver.name, name, group.key, message))
            new_entry = NflogEntry(firing, resolved, now_ms)
            self._store.enqueue(items, now_ms, (*key, new_entry))
            self._nflog[key] = new_entry
            if items:
                self._on_enqueued()

    # --- views --------------------------------------------------------------------

    def groups(self) -> list[Group]:
        """Copies of the non-empty groups (safe to read while alerts keep arriving)."""
        with self._lock:
            return [replace(g, alerts=dict(g.alerts)) for g in self._groups.values() if g.alerts]

    def receivers_of(self, labels: Mapping[str, str]) -> list[str]:
        return [r.receiver for r in self.config.route.match(labels)]
