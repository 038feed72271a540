"""Keyed periodic workers: the lifecycle the scrape and probe managers share.

One asyncio task per worker, each run every ``interval_s`` at a fixed offset within
the interval derived from its URL (like Prometheus), so many targets do not all
fire at once, skipping ahead when it fell behind. ``apply`` starts new workers,
retunes changed ones and stops removed ones (their series go stale); ``stop``
cancels every loop and waits for an append already handed to a worker thread, so
the caller may close the store as soon as it returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import zlib
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, Generic, Protocol, TypeVar

__all__ = ["PeriodicConfig", "PeriodicPool", "PeriodicWorker"]


class PeriodicConfig(Protocol):
    @property
    def key(self) -> tuple[str, str]: ...

    @property
    def job(self) -> str: ...

    @property
    def url(self) -> str: ...

    @property
    def interval_s(self) -> float: ...


C = TypeVar("C", bound=PeriodicConfig)


class PeriodicWorker(Protocol[C]):
    config: C

    def configure(self, config: C) -> None: ...

    def mark_stale(self, ts_ms: int) -> None: ...


W = TypeVar("W", bound=PeriodicWorker[Any])


class PeriodicPool(Generic[C, W]):
    def __init__(
        self,
        what: str,
        duplicates: str,
        make: Callable[[C], W],
        tick: Callable[[W], Awaitable[object]],
        *,
        clock: Callable[[], float],
        writer_lock: threading.RLock,
        logger: logging.Logger,
    ) -> None:
        """``what`` names the work in logs and task names ("scrape", "probe");
        ``duplicates`` starts the error for a repeated key; ``make`` builds a worker
        for a config; ``tick`` runs it once."""
        self._what = what
        self._duplicates = duplicates
        self._make = make
        self._tick = tick
        self._clock = clock
        self._writer_lock = writer_lock
        self._logger = logger
        self._workers: dict[tuple[str, str], W] = {}
        self._tasks: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._stopped: asyncio.Event | None = None
        self._running = False

    def workers(self) -> Iterator[W]:
        """The workers in key order."""
        return (w for _, w in sorted(self._workers.items(), key=lambda item: item[0]))

    def apply(self, configs: Sequence[C]) -> None:
        wanted = {c.key: c for c in configs}
        if len(wanted) != len(configs):
            dupes = sorted({c.key for c in configs if sum(d.key == c.key for d in configs) > 1})
            raise ValueError(f"{self._duplicates}: {dupes}")
        for key in list(self._workers):
            if key not in wanted:
                removed = self._workers.pop(key)
                self._cancel(key)
                removed.mark_stale(int(self._clock() * 1000))
        for key, config in wanted.items():
            existing = self._workers.get(key)
            if existing is None:
                self._workers[key] = self._make(config)
            elif existing.config != config:
                existing.configure(config)
                self._cancel(key)
            if self._running and key not in self._tasks:
                self._start(key)

    def _cancel(self, key: tuple[str, str]) -> None:
        task = self._tasks.pop(key, None)
        if task is not None:
            task.cancel()

    def _start(self, key: tuple[str, str]) -> None:
        self._tasks[key] = asyncio.get_running_loop().create_task(
            self._loop(self._workers[key]), name=f"{self._what} {key[0]} {key[1]}"
        )

    async def _loop(self, worker: W) -> None:
        config = worker.config
        interval = config.interval_s
        offset = (zlib.crc32(config.url.encode()) % 1000) / 1000 * interval
        now = self._clock()
        next_at = now - (now % interval) + offset
        if next_at < now:
            next_at += interval
        while True:
            await asyncio.sleep(max(0.0, next_at - self._clock()))
            try:
                await self._tick(worker)
            except Exception:  # a bug or a full disk must not end this worker's loop
                self._logger.exception(
                    "%s of %s (job %s) failed", self._what, worker.config.url, worker.config.job
                )
            next_at += interval
            now = self._clock()
            if next_at < now:  # fell behind (slow target or suspended machine): skip ahead
                next_at = now + (interval - (now - next_at) % interval)

    async def run(self) -> None:
        """Run every worker until ``stop()`` is called."""
        self._stopped = asyncio.Event()
        self._running = True
        for key in self._workers:
            if key not in self._tasks:
                self._start(key)
        await self._stopped.wait()

    async def stop(self) -> None:
        """Cancel every loop, then wait for an append already in a worker thread."""
        self._running = False
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.to_thread(self._wait_for_writer)

    def stopped(self) -> None:
        """Release ``run()``: call last, after the owner closed its own resources."""
        if self._stopped is not None:
            self._stopped.set()

    def _wait_for_writer(self) -> None:
        with self._writer_lock:
            pass
