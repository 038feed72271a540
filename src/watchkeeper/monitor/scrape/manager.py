"""ScrapeManager: one asyncio task per target, with run / stop / apply_config / status.

Each target is scraped every ``interval_s`` at a fixed offset within the interval
derived from its URL (like Prometheus), so many targets don't all fire at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import zlib
from collections.abc import Sequence

import httpx

from watchkeeper.monitor.model import Appendable
from watchkeeper.monitor.scrape.config import TargetConfig, TargetStatus
from watchkeeper.monitor.scrape.target import Clock, TargetScraper

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
        self._appendable = appendable
        self._offload = offload
        self._writer_lock = writer_lock if writer_lock is not None else threading.RLock()
        self._clock = clock
        self._client = client
        self._own_client = client is None
        self._scrapers: dict[tuple[str, str], TargetScraper] = {}
        self._tasks: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._stopped: asyncio.Event | None = None
        self._running = False
        self.apply_config(targets)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(follow_redirects=True)
        return self._client

    def apply_config(self, targets: Sequence[TargetConfig]) -> None:
        """Start new targets, retune changed ones, stop removed ones (their series go stale)."""
        wanted = {t.key: t for t in targets}
        if len(wanted) != len(targets):
            dupes = sorted({t.key for t in targets if sum(u.key == t.key for u in targets) > 1})
            raise ValueError(f"duplicate scrape targets (job, url): {dupes}")
        for key in list(self._scrapers):
            if key not in wanted:
                removed = self._scrapers.pop(key)
                task = self._tasks.pop(key, None)
                if task is not None:
                    task.cancel()
                removed.mark_stale(int(self._clock() * 1000))
        for key, config in wanted.items():
            existing = self._scrapers.get(key)
            if existing is None:
                self._scrapers[key] = TargetScraper(
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
            self._loop(self._scrapers[key]), name=f"scrape {key[0]} {key[1]}"
        )

    async def _loop(self, scraper: TargetScraper) -> None:
        interval = scraper.config.interval_s
        offset = (zlib.crc32(scraper.config.url.encode()) % 1000) / 1000 * interval
        now = self._clock()
        next_at = now - (now % interval) + offset
        if next_at < now:
            next_at += interval
        while True:
            await asyncio.sleep(max(0.0, next_at - self._clock()))
            try:
                await scraper.scrape(self._http())
            except Exception:  # a bug or a full disk must not end this target's loop
                logger.exception(
                    "scrape of %s (job %s) failed", scraper.config.url, scraper.config.job
                )
            next_at += interval
            now = self._clock()
            if next_at < now:  # fell behind (slow target or suspended machine): skip ahead
                next_at = now + (interval - (now - next_at) % interval)

    async def run(self) -> None:
        """Scrape every target until ``stop()`` is called."""
        self._stopped = asyncio.Event()
        self._running = True
        for key in self._scrapers:
            if key not in self._tasks:
                self._start(key)
        await self._stopped.wait()

    async def stop(self) -> None:
        """Cancel every scrape loop and close the HTTP client."""
        self._running = False
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        # An ingest already handed to a worker thread finishes on its own: wait for it,
        # so the caller may close the store as soon as stop() returns.
        await asyncio.to_thread(self._wait_for_writer)
        if self._own_client and self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._stopped is not None:
            self._stopped.set()

    def _wait_for_writer(self) -> None:
        with self._writer_lock:
            pass

    async def scrape_all(self) -> None:
        """Scrape every target once, now, one after another (for tests and `--once` tools)."""
        for scraper in list(self._scrapers.values()):
            await scraper.scrape(self._http())

    def status(self) -> list[TargetStatus]:
        return [s.status for _, s in sorted(self._scrapers.items())]
