"""Scraping one target: fetch, parse, label, append, staleness and the synthetic series.

Appends and the commit happen with no ``await`` in between, so many targets
sharing one event loop never interleave their batches (one writer at a time).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from watchkeeper.monitor.model import STALE_NAN, Appendable, Labels
from watchkeeper.monitor.scrape.config import ACCEPT_HEADER, Health, TargetConfig, TargetStatus
from watchkeeper.monitor.scrape.fetch import ScrapeError, fetch
from watchkeeper.monitor.scrape.labels import target_labeler
from watchkeeper.monitor.scrape.parser import ExpositionError, Parser, is_openmetrics, parse_series

__all__ = ["ScrapeResult", "TargetScraper"]

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class ScrapeResult:
    samples: int
    series_added: int
    error: str


class TargetScraper:
    """Holds one target's state between scrapes: label cache and the last scrape's series."""

    def __init__(self, appendable: Appendable, config: TargetConfig, *, clock: Clock) -> None:
        self.appendable = appendable
        self.clock = clock
        self._cache: dict[str, Labels] = {}
        self._previous: set[str] = set()
        self.configure(config)
        self.status = TargetStatus(
            config.job,
            config.instance,
            config.url,
            "unknown",
            None,
            0.0,
            "",
            0,
            0,
            config.target_labels(),
            config.interval_s,
            config.timeout_s,
        )

    def configure(self, config: TargetConfig) -> None:
        """Apply a changed config; the label cache is rebuilt only if the labels changed."""
        old = getattr(self, "config", None)
        self.config = config
        self._labeler = target_labeler(config.target_labels(), honor=config.honor_labels)
        self._synthetic = {
            name: self._labeler((("__name__", name),))
            for name in (
                "up",
                "scrape_duration_seconds",
                "scrape_samples_scraped",
                "scrape_samples_post_metric_relabeling",
                "scrape_series_added",
            )
        }
        if (
            old is None
            or old.target_labels() != config.target_labels()
            or (old.honor_labels != config.honor_labels)
        ):
            self._cache.clear()
        self._headers = {
            "Accept": ACCEPT_HEADER,
            "Accept-Encoding": "gzip",
            "User-Agent": "watchkeeper",
            "X-Prometheus-Scrape-Timeout-Seconds": f"{config.timeout_s:g}",
            **config.headers,
        }
        if config.bearer_token:
            self._headers["Authorization"] = f"Bearer {config.bearer_token}"

    async def scrape(self, client: httpx.AsyncClient) -> ScrapeResult:
        """One scrape: fetch the body, then ingest it (or record the failure) in one batch."""
        cfg = self.config
        started = self.clock()
        ts_ms = int(started * 1000)
        wall = time.perf_counter()
        try:
            body, content_type = await asyncio.wait_for(
                fetch(client, cfg.url, self._headers, cfg.timeout_s, cfg.body_limit_bytes),
                timeout=cfg.timeout_s,
            )
        except TimeoutError:
            body, content_type = None, f"scrape timed out after {cfg.timeout_s:g}s (timeout_s)"
        except ScrapeError as exc:
            body, content_type = None, str(exc)
        if body is None:
            result = self._fail(ts_ms, content_type, time.perf_counter() - wall)
        else:
            result = self._ingest(body, content_type, ts_ms, wall)
        health: Health = "down" if result.error else "up"
        self.status = TargetStatus(
            cfg.job,
            cfg.instance,
            cfg.url,
            health,
            started,
            time.perf_counter() - wall,
            result.error,
            result.samples,
            result.series_added,
            cfg.target_labels(),
            cfg.interval_s,
            cfg.timeout_s,
        )
        return result

    def ingest_text(self, text: str, content_type: str, ts_ms: int) -> ScrapeResult:
        """Ingest an already fetched body (used by tests and benchmarks)."""
        return self._ingest(text, content_type, ts_ms, time.perf_counter())

    def _ingest(self, text: str, content_type: str, ts_ms: int, wall: float) -> ScrapeResult:
        try:
            parsed = self._parse(text, content_type)
        except (ExpositionError, ScrapeError) as exc:
            return self._fail(ts_ms, str(exc), time.perf_counter() - wall)
        app = self.appendable
        current: set[str] = set()
        added = 0
        previous = self._previous
        for key, labels, value, ts in parsed:
            if ts is None:
                app.append(labels, ts_ms, value)
                current.add(key)
                if key not in previous:
                    added += 1
            else:
                # Explicit timestamps: appended as given, never marked stale (like Prometheus).
                app.append(labels, ts, value)
        for key in previous - current:
            gone = self._cache.get(key)
            if gone is not None:
                app.append(gone, ts_ms, STALE_NAN)
        self._previous = current
        if len(self._cache) > 2 * len(parsed) + 1000:
            # Series churn: keep only what this scrape used, so the cache stays bounded.
            self._cache = {key: labels for key, labels, _, _ in parsed}
        n = len(parsed)
        self._report(ts_ms, 1.0, time.perf_counter() - wall, n, added)
        app.commit()
        return ScrapeResult(n, added, "")

    def _parse(self, text: str, content_type: str) -> list[tuple[str, Labels, float, int | None]]:
        cfg = self.config
        parser = Parser(openmetrics=is_openmetrics(content_type), where=cfg.url)
        cache, labeler = self._cache, self._labeler
        out: list[tuple[str, Labels, float, int | None]] = []
        for key, value, ts in parser.parse(text):
            labels = cache.get(key)
            if labels is None:
                labels = cache[key] = labeler(parse_series(key, parser.lineno, cfg.url))
            out.append((key, labels, value, ts))
            if cfg.series_limit and len(out) > cfg.series_limit:
                msg = f"series limit exceeded: more than {cfg.series_limit} series"
                raise ScrapeError(
                    f"{msg} (series_limit of job {cfg.job!r}); raise it or drop metrics"
                )
        return out

    def _fail(self, ts_ms: int, error: str, duration: float) -> ScrapeResult:
        """A failed scrape: every series of the last good scrape goes stale, and up = 0."""
        self.mark_stale(ts_ms, commit=False)
        self._report(ts_ms, 0.0, duration, 0, 0)
        self.appendable.commit()
        return ScrapeResult(0, 0, error or "scrape failed")

    def mark_stale(self, ts_ms: int, *, commit: bool = True) -> None:
        """Stale markers for the last scrape's series (failure, or the target went away)."""
        for key in self._previous:
            gone = self._cache.get(key)
            if gone is not None:
                self.appendable.append(gone, ts_ms, STALE_NAN)
        self._previous = set()
        if commit:
            for labels in self._synthetic.values():
                self.appendable.append(labels, ts_ms, STALE_NAN)
            self.appendable.commit()

    def _report(self, ts_ms: int, up: float, duration: float, samples: int, added: int) -> None:
        app, syn = self.appendable, self._synthetic
        app.append(syn["up"], ts_ms, up)
        app.append(syn["scrape_duration_seconds"], ts_ms, duration)
        app.append(syn["scrape_samples_scraped"], ts_ms, float(samples))
        app.append(syn["scrape_samples_post_metric_relabeling"], ts_ms, float(samples))
        app.append(syn["scrape_series_added"], ts_ms, float(added))
