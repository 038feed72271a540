"""ScrapeManager: one asyncio task per target, with run / stop / apply_config / status.

Each target is scraped every ``interval_s`` at a fixed offset within the interval
derived from its URL (like Prometheus), so many targets don't all fire at once; the
lifecycle is the one it shares with the probes (``monitor/periodic.py``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Awaitable, Sequence

import httpx

from watchkeeper.monitor.model import Appendable
from watchkeeper.monitor.periodic import PeriodicPool
from watchkeeper.monitor.scrape.config import TargetConfig, TargetStatus
from watchkeeper.monitor.scrape.target import Clock, ScrapeResult, TargetScraper

__all__ = ["ScrapeManager"]

logger = logging.getLogger(__name__)


class ScrapeManager:
    def __init__(
        self,
        appendable: Appendable,
        targets: Sequence[TargetConfig],
        *,
        clock: Clock = time.time,
        client: httpx.AsyncClient | None = None,
        offload: bool = True,
        writer_lock: threading.RLock | None = None,
    ) -> None:
        """``offload``: ingest in worker threads (one at a time), keeping the event loop free
        for the HTTP API while the store cuts or compacts blocks. ``writer_lock``: share it
        with every other writer of ``appendable`` (the probes) so there is one at a time."""
        lock = writer_lock if writer_lock is not None else threading.RLock()
        self._client = client
        self._own_client = client is None

        def make(config: TargetConfig) -> TargetScraper:
            return TargetScraper(appendable, config, clock=clock, writer_lock=lock, offload=offload)

        self._pool: PeriodicPool[TargetConfig, TargetScraper] = PeriodicPool(
            "scrape", "duplicate scrape targets (job, url)", make, self._scrape,
            clock=clock, writer_lock=lock, logger=logger,
        )  # fmt: skip
        self.apply_config(targets)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(follow_redirects=True)
        return self._client

    def _scrape(self, scraper: TargetScraper) -> Awaitable[ScrapeResult]:
        return scraper.scrape(self._http())

    def apply_config(self, targets: Sequence[TargetConfig]) -> None:
        """Start new targets, retune changed ones, stop removed ones (their series go stale)."""
        self._pool.apply(targets)

    async def run(self) -> None:
        """Scrape every target until ``stop()`` is called."""
        await self._pool.run()

    async def stop(self) -> None:
        """Cancel every scrape loop (waiting for an ingest in a worker thread) and close
        the HTTP client."""
        await self._pool.stop()
        if self._own_client and self._client is not None:
            await self._client.aclose()
            self._client = None
        self._pool.stopped()

    async def scrape_all(self) -> None:
        """Scrape every target once, now, one after another (for tests and `--once` tools)."""
        for scraper in list(self._pool.workers()):
            await scraper.scrape(self._http())

    def status(self) -> list[TargetStatus]:
        return [s.status for s in self._pool.workers()]
