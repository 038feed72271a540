"""At-least-once delivery from the outbox: retries with backoff and jitter, dead letters.

Notifications of one lane (receiver, integration, group) go out in the order they
were written, one at a time, so a resolved message never overtakes its firing one.
A failed attempt is retried after ``min(max, initial * 2**(n-1))`` seconds scaled
by a random factor in [0.5, 1] (so many groups failing together do not retry in
lock-step); after ``max_attempts`` failures, or one failure a retry cannot fix
(a 4xx answer), the notification becomes a dead letter: kept, visible in the API
with every attempt, and no longer tried. Every attempt is recorded.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from watchkeeper.monitor.notify.config import Integration
from watchkeeper.monitor.notify.senders import DeliveryError, forward_to_alertmanager, send
from watchkeeper.monitor.notify.store import Attempt, NotifyStore, OutboxRow

__all__ = ["DeliveryOptions", "Deliverer", "backoff_s"]

log = logging.getLogger("watchkeeper.monitor.notify")

FORWARD_RECEIVER = "alertmanager"


@dataclass(frozen=True, slots=True)
class DeliveryOptions:
    # 1 + 2 + ... + 256 s, then every 300 s: the 20th try is about an hour after the first.
    max_attempts: int = 20
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 300.0
    timeout_s: float = 10.0
    concurrency: int = 8
    keep_finished_s: float = 7 * 86_400.0


def backoff_s(attempts: int, options: DeliveryOptions, rand: Callable[[], float]) -> float:
    """Delay before the next try after ``attempts`` failures (exponential, jittered)."""
    base = min(options.backoff_max_s, options.backoff_initial_s * 2.0 ** max(0, attempts - 1))
    return float(base * (0.5 + 0.5 * rand()))


Resolver = Callable[[OutboxRow], "Integration | str | None"]


class Deliverer:
    """Starts due deliveries as tasks; ``resolve`` finds a row's integration (or, for a
    forward to Alertmanager, its base URL) in the current configuration."""

    def __init__(
        self,
        store: NotifyStore,
        resolve: Resolver,
        options: DeliveryOptions,
        on_done: Callable[[], None],
        clock: Callable[[], int],
    ) -> None:
        self.store = store
        self.options = options
        self._resolve = resolve
        self._on_done = on_done
        self._clock = clock
        self._busy: dict[str, asyncio.Task[None]] = {}
        self._client: httpx.AsyncClient | None = None
        self._rand = random.random
        # Since start, for /metrics (the outbox itself holds the lasting record).
        self.attempts = 0
        self.failures = 0
        self.dead_letters = 0

    @property
    def busy_lanes(self) -> set[str]:
        return set(self._busy)

    def pump(self, now_ms: int) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.options.timeout_s)
        free = self.options.concurrency - len(self._busy)
        if free <= 0:
            return
        for row in self.store.due(now_ms, set(self._busy), free):
            task = asyncio.create_task(self._deliver(row), name=f"notify-{row.id}")
            self._busy[row.lane] = task

    async def _deliver(self, row: OutboxRow) -> None:
        try:
            await self._attempt(row)
        except Exception:  # a bug here must not kill the lane forever
            log.exception("watchkeeper notify: delivery of notification %d failed", row.id)
        finally:
            self._busy.pop(row.lane, None)
            self._on_done()

    async def _attempt(self, row: OutboxRow) -> None:
        assert self._client is not None
        started = self._clock()
        t0 = time.monotonic()
        status_code: int | None = None
        error = ""
        retryable = False
        target = self._resolve(row)
        try:
            if target is None:
                raise DeliveryError(
                    f"receiver {row.receiver!r} {row.integration} is no longer configured",
                    retryable=False,
                )
            message: Mapping[str, Any] = row.message
            if isinstance(target, str):
                status_code = await forward_to_alertmanager(self._client, target, message)
            else:
                status_code = await send(self._client, target, message)
        except DeliveryError as exc:
            error, retryable, status_code = str(exc), exc.retryable, exc.status_code
        duration = round((time.monotonic() - t0) * 1000)
        attempts = row.attempts + 1
        self.attempts += 1
        self.failures += bool(error)
        if not error:
            status, next_ms = "delivered", 0
        elif retryable and attempts < self.options.max_attempts:
            delay = backoff_s(attempts, self.options, self._rand)
            status, next_ms = "pending", self._clock() + round(delay * 1000)
        else:
            status, next_ms = "dead", 0
            self.dead_letters += 1
            log.warning(
                "watchkeeper notify: giving up on notification %d to %s %s after %d attempt(s): %s",
                row.id,
                row.receiver,
                row.integration,
                attempts,
                error,
            )
        attempt = Attempt(
            row.id,
            started,
            row.receiver,
            row.integration,
            row.group_key,
            not error,
            status_code,
            error,
            duration,
        )
        self.store.record(attempt, status, next_ms)

    async def close(self, timeout_s: float = 5.0) -> None:
        """Let in-flight attempts finish (they are recorded), then close the client."""
        tasks = list(self._busy.values())
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout_s)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        if self._client is not None:
            await self._client.aclose()
            self._client = None
