"""ProbeManager: one asyncio task per probe, with run / stop / apply_config / status.

The same lifecycle and scheduling as the scrape manager (a fixed offset within the
interval derived from the target, skipping ahead when behind), and the same writer
lock, passed in by ``server.py``, so probes and scrapes are one writer at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import zlib
from collections.abc import Sequence

from watchkeeper.monitor.model import Appendable
from watchkeeper.monitor.probe.config import ProbeConfig, ProbeStatus
from watchkeeper.monitor.probe.prober import Clock, Prober

__all__ = ["ProbeManager"]

logger = logging.getLogger("watchkeeper.monitor.probe")


class ProbeManager:
    def __init__(
        self,
        appendable: Appendable,
        probes: Sequence[ProbeConfig],
        *,
        writer_lock: threading.RLock | None = None,
        clock: Clock = time.time,
        offload: bool = True,
    ) -> None:
        """``writer_lock``: the lock every writer of ``appendable`` holds (share the scrape
        manager's); ``offload``: append in a worker thread, keeping the event loop free."""
        self._appendable = appendable
        self._writer_lock = writer_lock if writer_lock is not None else threading.RLock()
        self._clock = clock
        self._offload = offload
        self._probers: dict[tuple[str, str], Prober] = {}
        self._tasks: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._stopped: asyncio.Event | None = None
        self._running = False
        self.apply_config(probes)

    def apply_config(self, probes: Sequence[ProbeConfig]) -> None:
        """Start new probes, retune changed ones, stop removed ones (their series go stale)."""
        wanted = {p.key: p for p in probes}
        if len(wanted) != len(probes):
            dupes = sorted({p.key for p in probes if sum(q.key == p.key for q in probes) > 1})
            raise ValueError(f"duplicate probes (job, target): {dupes}")
        for key in list(self._probers):
            if key not in wanted:
                removed = self._probers.pop(key)
                task = self._tasks.pop(key, None)
                if task is not None:
                    task.cancel()
                removed.mark_stale(int(self._clock() * 1000))
                # Its client holds no connection (no keep-alive): dropping it leaks nothing.
        for key, config in wanted.items():
            existing = self._probers.get(key)
            if existing is None:
                self._probers[key] = Prober(
                    self._appendable,
                    config,
                    clock=self._clock,
                    writer_lock=self._writer_lock,
                    offload=self._offload,
                )
            elif existing.config != config:
                existing.configure(config)
                task = self._tasks.pop(key, None)
                if task is not None:
                    task.cancel()
            if self._running and key not in self._tasks:
                self._start(key)

    def _start(self, key: tuple[str, str]) -> None:
        self._tasks[key] = asyncio.get_running_loop().create_task(
            self._loop(self._probers[key]), name=f"probe {key[0]} {key[1]}"
        )

    async def _loop(self, prober: Prober) -> None:
        interval = prober.config.interval_s
        offset = (zlib.crc32(prober.config.url.encode()) % 1000) / 1000 * interval
        now = self._clock()
        next_at = now - (now % interval) + offset
        if next_at < now:
            next_at += interval
        while True:
            await asyncio.sleep(max(0.0, next_at - self._clock()))
            try:
                await prober.probe()
            except Exception:  # a bug or a full disk must not end this probe's loop
                logger.exception("probe %s (job %s) failed", prober.config.url, prober.config.job)
            next_at += interval
            now = self._clock()
            if next_at < now:  # fell behind (slow target or suspended machine): skip ahead
                next_at = now + (interval - (now - next_at) % interval)

    async def run(self) -> None:
        """Probe every target until ``stop()`` is called."""
        self._stopped = asyncio.Event()
        self._running = True
        for key in self._probers:
            if key not in self._tasks:
                self._start(key)
        await self._stopped.wait()

    async def stop(self) -> None:
        """Cancel every probe loop and wait for an append already in a worker thread."""
        self._running = False
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.to_thread(self._wait_for_writer)
        for prober in self._probers.values():
            await prober.aclose()
        if self._stopped is not None:
            self._stopped.set()

    def _wait_for_writer(self) -> None:
        with self._writer_lock:
            pass

    async def probe_all(self) -> list[ProbeStatus]:
        """Run every probe once, now, one after another (for tests and one-shot tools)."""
        return [await p.probe() for p in list(self._probers.values())]

    def status(self) -> list[ProbeStatus]:
        return [p.status for _, p in sorted(self._probers.items())]
