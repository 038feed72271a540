"""The embedded notifier: what ``server.py`` builds and the rules engine calls.

``Notifier.notify`` is a ``NotifyFunc`` (safe to call from any thread): it takes
the alerts the rules engine (re)sends at an evaluation. ``post_alerts`` is the
same for Alertmanager's ``POST /api/v2/alerts``. ``start``/``stop`` run the timer
loop (group timers, deliveries, maintenance) on the running event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from watchkeeper.monitor.model import Alert
from watchkeeper.monitor.notify.alerts import AlertEntry, AlertStore, entry_from_alert
from watchkeeper.monitor.notify.config import Integration, NotifyConfig
from watchkeeper.monitor.notify.delivery import FORWARD_RECEIVER, Deliverer, DeliveryOptions
from watchkeeper.monitor.notify.dispatch import Dispatcher, alert_message, integration_names
from watchkeeper.monitor.notify.silences import Silences
from watchkeeper.monitor.notify.store import NewNotification, NotifyStore, OutboxRow

__all__ = ["Notifier", "now_ms"]

log = logging.getLogger("watchkeeper.monitor.notify")


def now_ms() -> int:
    return int(time.time() * 1000)


class Notifier:
    """Routing, grouping, silences, inhibition and at-least-once delivery for one monitor.

    ``data_dir`` is the monitor's data directory; the notifier keeps its state in
    ``<data_dir>/notify/notify.db``. ``forward_to`` lists base URLs of external
    Alertmanagers that receive every alert (``POST /api/v2/alerts``), through the
    same outbox.
    """

    def __init__(
        self,
        config: NotifyConfig,
        data_dir: Path,
        *,
        delivery: DeliveryOptions | None = None,
        forward_to: Sequence[str] = (),
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.config = config
        self.clock = clock
        self.started_ms = clock()
        self.forward_to = tuple(forward_to)
        self.store = NotifyStore(Path(data_dir) / "notify")
        self.alerts = AlertStore()
        self.silences = Silences(self.store)
        self.dispatcher = Dispatcher(config, self.alerts, self.silences, self.store, self._wake_up)
        self.deliverer = Deliverer(
            self.store, self._resolve, delivery or DeliveryOptions(), self._wake_up, clock
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._closed = False

    # --- intake -------------------------------------------------------------------

    def notify(self, alerts: Sequence[Alert]) -> None:
        """The ``NotifyFunc``: never raises (a bad alert is logged and skipped)."""
        try:
            errors = self.post_alerts(alerts)
        except Exception:  # e.g. a full disk under the outbox: the rules engine goes on
            log.exception("watchkeeper notify: could not take %d alert(s)", len(alerts))
            return
        for error in errors:
            log.warning("watchkeeper notify: alert rejected: %s", error)

    def post_alerts(self, alerts: Sequence[Alert]) -> list[str]:
        """Take alerts; returns a message per rejected alert (the rest are taken)."""
        now = self.clock()
        entries: list[AlertEntry] = []
        errors: list[str] = []
        for alert in alerts:
            try:
                entries.append(entry_from_alert(alert, now, self.config.resolve_timeout_ms))
            except ValueError as exc:
                errors.append(str(exc))
        if entries:
            self.dispatcher.ingest(entries, now)
            if self.forward_to:
                message: dict[str, object] = {"alerts": [alert_message(e, now) for e in entries]}
                items = [
                    NewNotification(
                        f"{FORWARD_RECEIVER}/{i}",
                        FORWARD_RECEIVER,
                        f"alertmanager[{i}]",
                        "",
                        message,  # the URL is not stored: it may hold credentials
                    )
                    for i in range(len(self.forward_to))
                ]
                self.store.enqueue(items, now)
            self._wake_up()
        return errors

    def _resolve(self, row: OutboxRow) -> Integration | str | None:
        if row.receiver == FORWARD_RECEIVER and row.integration.startswith("alertmanager["):
            index = row.integration.removeprefix("alertmanager[").rstrip("]")
            if index.isdigit() and int(index) < len(self.forward_to):
                return self.forward_to[int(index)]
            return None
        receiver = self.config.receivers.get(row.receiver)
        if receiver is None:
            return None
        names = integration_names(receiver.integrations)
        for integ, name in zip(receiver.integrations, names, strict=True):
            if name == row.integration:
                return integ
        return None

    # --- lifetime -----------------------------------------------------------------

    def _wake_up(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._wake.set()
        else:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._wake.set)

    async def start(self) -> None:
        """Start the timer loop on the running event loop (pending deliveries resume)."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="watchkeeper-notify")

    async def _run(self) -> None:
        keep_ms = int(self.deliverer.options.keep_finished_s * 1000)
        next_prune = 0
        while not self._stopping:
            self._wake.clear()
            now = self.clock()
            try:
                self.dispatcher.run_due(now)
                self.deliverer.pump(now)
                if now >= next_prune:
                    self.store.prune(now - keep_ms)
                    next_prune = now + 3_600_000
            except Exception:  # keep notifying whatever one step's bug
                log.exception("watchkeeper notify: the notifier loop failed a step")
            due = self.store.next_due_ms(self.deliverer.busy_lanes)
            next_ms = min(self.dispatcher.next_due_ms(), due if due is not None else math.inf)
            timeout = max(0.0, min((next_ms - self.clock()) / 1000, 1.0))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def stop(self) -> None:
        """Stop timers, let in-flight deliveries finish briefly, close the store (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.deliverer.close()
        self._loop = None
        self.store.close()

    # --- views for the API ----------------------------------------------------------

    def alert_status(self, entry: AlertEntry, now: int) -> dict[str, Any]:
        silenced, inhibited = self.dispatcher.muted(entry.labels, now)
        return {
            "state": "suppressed" if silenced or inhibited else "active",
            "silencedBy": silenced,
            "inhibitedBy": inhibited,
        }

    def counts(self) -> Mapping[str, int]:
        return self.store.counts()

    def stats(self) -> dict[str, float]:
        """For the monitor's /metrics: the ``*_total`` keys are counters since start,
        the rest gauges (alert on ``outbox_dead`` and a growing ``outbox_pending``)."""
        now = self.clock()
        counts = self.store.counts()
        return {
            "outbox_pending": counts.get("pending", 0),
            "outbox_dead": counts.get("dead", 0),
            "alerts": sum(1 for a in self.alerts.list() if not a.resolved_at(now)),
            "groups": len(self.dispatcher.groups()),
            "silences_active": sum(1 for s in self.silences.list(now) if s.state(now) == "active"),
            "delivery_attempts_total": self.deliverer.attempts,
            "delivery_failures_total": self.deliverer.failures,
            "dead_letters_total": self.deliverer.dead_letters,
        }
