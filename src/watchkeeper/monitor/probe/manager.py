"""ProbeManager: one asyncio task per probe, with run / stop / apply_config / status.

The same lifecycle and scheduling as the scrape manager (``monitor/periodic.py``: a
fixed offset within the interval derived from the target, skipping ahead when
behind), and the same writer lock, passed in by ``server.py``, so probes and
scrapes are one writer at a time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

from watchkeeper.monitor.model import Appendable
from watchkeeper.monitor.periodic import PeriodicPool
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
        lock = writer_lock if writer_lock is not None else threading.RLock()

        def make(config: ProbeConfig) -> Prober:
            # Its client holds no connection (no keep-alive): dropping a removed one leaks nothing.
            return Prober(appendable, config, clock=clock, writer_lock=lock, offload=offload)

        self._pool: PeriodicPool[ProbeConfig, Prober] = PeriodicPool(
            "probe", "duplicate probes (job, target)", make, Prober.probe,
            clock=clock, writer_lock=lock, logger=logger,
        )  # fmt: skip
        self.apply_config(probes)

    def apply_config(self, probes: Sequence[ProbeConfig]) -> None:
        """Start new probes, retune changed ones, stop removed ones (their series go stale)."""
        self._pool.apply(probes)

    def probers(self) -> list[Prober]:
        return list(self._pool.workers())

    async def run(self) -> None:
        """Probe every target until ``stop()`` is called."""
        await self._pool.run()

    async def stop(self) -> None:
        """Cancel every probe loop and wait for an append already in a worker thread."""
        await self._pool.stop()
        for prober in self._pool.workers():
            await prober.aclose()
        self._pool.stopped()

    async def probe_all(self) -> list[ProbeStatus]:
        """Run every probe once, now, one after another (for tests and one-shot tools)."""
        return [await p.probe() for p in list(self._pool.workers())]

    def status(self) -> list[ProbeStatus]:
        return [p.status for p in self._pool.workers()]
