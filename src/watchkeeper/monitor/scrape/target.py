"""Scraping one target: fetch, parse, label, append, staleness and the synthetic series.

Appends and the commit happen with no ``await`` in between, so many targets
sharing one event loop never interleave their batches (one writer at a time).
"""

from __future__ import annotations

import asyncio
import operator
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx

from watchkeeper.monitor.model import STALE_NAN, Appendable, Labels
from watchkeeper.monitor.scrape.config import ACCEPT_HEADER, Health, TargetConfig, TargetStatus
from watchkeeper.monitor.scrape.fetch import ScrapeError, fetch
from watchkeeper.monitor.scrape.labels import target_labeler
from watchkeeper.monitor.scrape.parser import ExpositionError, Parser, is_openmetrics, parse_series

__all__ = ["ScrapeResult", "TargetScraper"]

Clock = Callable[[], float]
_SYNTHETIC = (
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
)


@dataclass(frozen=True, slots=True)
class ScrapeResult:
    samples: int
    series_added: int
    error: str


class TargetScraper:
    """Holds one target's state between scrapes: label cache and the last scrape's series."""

    def __init__(
        self,
        appendable: Appendable,
        config: TargetConfig,
        *,
        clock: Clock = time.time,
        writer_lock: threading.RLock | None = None,
        offload: bool = False,
    ) -> None:
        """``offload=True`` ingests in a worker thread so a slow commit (a block cut or a
        compaction) never stalls the event loop; ``writer_lock`` (shared by all targets of
        a store) keeps a single writer at a time, as the store requires."""
        self.appendable = appendable
        self.clock = clock
        self._writer_lock = writer_lock if writer_lock is not None else threading.RLock()
        self._offload = offload
        self._cache: dict[str, Labels] = {}
        self._previous: set[str] = set()
        # Stores with series references (the TSDB) get whole batches appended at once.
        self._ref: Callable[[Labels], int] | None = getattr(appendable, "ref", None)
        self._append_refs: Callable[[Sequence[int], int, list[float]], int] | None = getattr(
            appendable, "append_refs", None
        )
        if self._ref is None:
            self._append_refs = None
        self._refs: dict[str, int] = {}
        self._ref_generation = 0
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
        """Apply a changed config. New target labels mean new series: the old ones go stale."""
        old: TargetConfig | None = getattr(self, "config", None)
        relabeled = old is None or (old.target_labels(), old.honor_labels) != (
            config.target_labels(),
            config.honor_labels,
        )
        # Under the writer lock: an ingest in a worker thread must not see half a change.
        with self._writer_lock:
            if old is not None and relabeled:
                self.mark_stale(int(self.clock() * 1000))
            self.config = config
            if relabeled:
                self._labeler = target_labeler(config.target_labels(), honor=config.honor_labels)
                self._synthetic = {n: self._labeler((("__name__", n),)) for n in _SYNTHETIC}
                self._cache.clear()
                self._refs.clear()
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

        def ingest() -> ScrapeResult:
            with self._writer_lock:
                if body is None:
                    return self._fail(ts_ms, content_type, time.perf_counter() - wall)
                return self._ingest(body, content_type, ts_ms, wall)

        result = await asyncio.to_thread(ingest) if self._offload else ingest()
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

    def _refresh_refs(self) -> None:
        """Drop cached references of series the store has forgotten (their data expired)."""
        generation = getattr(self.appendable, "ref_generation", 0)
        if generation == self._ref_generation:
            return
        self._ref_generation = generation
        labels_of: Callable[[int], Labels] = self.appendable.labels_of  # type: ignore[attr-defined]
        kept: dict[str, int] = {}
        for key, ref in self._refs.items():
            try:
                labels_of(ref)
            except KeyError:
                continue
            kept[key] = ref
        self._refs = kept
        self._previous &= kept.keys()

    def _ingest(self, text: str, content_type: str, ts_ms: int, wall: float) -> ScrapeResult:
        cfg = self.config
        self._refresh_refs()
        parser = Parser(openmetrics=is_openmetrics(content_type), where=cfg.url)
        try:
            keys, values, stamps = parser.parse_batch(text)
            if cfg.series_limit and len(keys) > cfg.series_limit:
                msg = f"series limit exceeded: {len(keys)} series, more than {cfg.series_limit}"
                fix = "raise it or expose fewer series"
                raise ScrapeError(f"{msg} (series_limit of job {cfg.job!r}); {fix}")
            unique = set(keys)
            self._learn(unique, text)
        except (ExpositionError, ScrapeError) as exc:
            return self._fail(ts_ms, str(exc), time.perf_counter() - wall)
        current = unique
        if stamps.count(None) != len(stamps):
            keys, values = self._append_timestamped(keys, values, stamps)
            current = set(keys)
        previous = self._previous
        added = len(current - previous)
        gone = previous - current
        self._append(keys, ts_ms, values)
        self._append(list(gone), ts_ms, [STALE_NAN] * len(gone))
        self._previous = current
        if len(self._cache) + len(self._refs) > 2 * len(current) + 1000:
            # Series churn: keep only what this scrape used, so the caches stay bounded.
            self._cache = {k: self._cache[k] for k in current if k in self._cache}
            self._refs = {k: self._refs[k] for k in current if k in self._refs}
        n = len(stamps)
        self._report(ts_ms, 1.0, time.perf_counter() - wall, n, added)
        self.appendable.commit()
        return ScrapeResult(n, added, "")

    def _learn(self, keys: set[str], text: str) -> None:
        """Parse and label the series keys not seen before (the only slow part of a scrape)."""
        cache, labeler, where = self._cache, self._labeler, self.config.url
        known: dict[str, int] | dict[str, Labels] = cache if self._ref is None else self._refs
        for key in keys.difference(known):
            try:
                labels = labeler(parse_series(key))
            except ExpositionError:
                line = text.count("\n", 0, max(text.find(key), 0)) + 1
                parse_series(key, line, where)  # raises again, now with the location
                raise
            if self._ref is None:
                cache[key] = labels
            else:
                # Only the reference is kept: the store holds the label set (once).
                self._refs[key] = self._ref(labels)

    def _append(self, keys: list[str], ts_ms: int, values: list[float]) -> None:
        if not keys:
            return
        if self._append_refs is not None:
            refs = (
                operator.itemgetter(*keys)(self._refs) if len(keys) > 1 else [self._refs[keys[0]]]
            )
            self._append_refs(refs, ts_ms, values)
            return
        cache, append = self._cache, self.appendable.append
        for key, value in zip(keys, values, strict=True):
            append(cache[key], ts_ms, value)

    def _append_timestamped(
        self, keys: list[str], values: list[float], stamps: list[int | None]
    ) -> tuple[list[str], list[float]]:
        """Append samples with explicit timestamps as given (never marked stale, like
        Prometheus); return the others."""
        rest_keys, rest_values = [], []
        for key, value, ts in zip(keys, values, stamps, strict=True):
            if ts is None:
                rest_keys.append(key)
                rest_values.append(value)
            else:
                self._append([key], ts, [value])
        return rest_keys, rest_values

    def _fail(self, ts_ms: int, error: str, duration: float) -> ScrapeResult:
        """A failed scrape: every series of the last good scrape goes stale, and up = 0."""
        self.mark_stale(ts_ms, commit=False)
        self._report(ts_ms, 0.0, duration, 0, 0)
        self.appendable.commit()
        return ScrapeResult(0, 0, error or "scrape failed")

    def mark_stale(self, ts_ms: int, *, commit: bool = True) -> None:
        """Stale markers for the last scrape's series (failure, or the target went away)."""
        with self._writer_lock:
            self._refresh_refs()
            gone = list(self._previous)
            self._append(gone, ts_ms, [STALE_NAN] * len(gone))
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
