"""Realistic synthetic scrape data of one web service, for compression tests and benchmarks.

What a real ``/metrics`` of a Python web service looks like over time: an HTTP
latency histogram per route/method/status (most series), request counters,
process metrics (CPU seconds in 1/100 s ticks, memory in pages, file
descriptors), a few gauges holding arbitrary floats, and Prometheus' own
per-scrape series. Scrape timestamps jitter by a few milliseconds around the
interval, with the occasional late scrape, as they do in production.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from watchkeeper.monitor.model import Labels, labels_from

__all__ = ["SyntheticService", "synthetic_service"]

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class SyntheticService:
    """``values[i]`` is series ``labels[i]`` at every scrape time ``timestamps``."""

    labels: list[Labels]
    timestamps: I64
    values: F64  # shape (series, scrapes)

    @property
    def samples(self) -> int:
        return int(self.values.size)


def _scrape_times(rng: np.random.Generator, steps: int, interval_ms: int, start_ms: int) -> I64:
    jitter = rng.integers(-3, 4, steps)
    late = rng.random(steps) < 0.01
    jitter[late] += rng.integers(50, 900, int(late.sum()))
    return (start_ms + np.arange(steps, dtype=np.int64) * interval_ms + jitter).astype(np.int64)


def synthetic_service(
    *,
    routes: int = 12,
    steps: int = 5760,
    interval_ms: int = 15_000,
    start_ms: int = 1_700_000_000_000,
    seed: int = 1,
) -> SyntheticService:
    """~1,300 series for ``routes=12`` (24 h at 15 s by default)."""
    rng = np.random.default_rng(seed)
    job = {"job": "api", "instance": "10.0.0.7:8000"}
    labels: list[Labels] = []
    rows: list[F64] = []

    def add(name: str, extra: dict[str, str], row: F64) -> None:
        labels.append(labels_from({"__name__": name, **job, **extra}))
        rows.append(row)

    hist = "http_server_request_duration_seconds"
    for route in range(routes):
        for method in ("GET", "POST"):
            for status in ("200", "404", "500"):
                base = {"http_route": f"/api/v1/r{route}", "http_request_method": method}
                base["http_response_status_code"] = status
                rate = rng.choice([0.0, 0.02, 0.3, 2.0, 15.0]) * (0.1 if status != "200" else 1)
                per_scrape = rng.poisson(rate * interval_ms / 1000, steps)
                count = np.cumsum(per_scrape).astype(np.float64)
                scale = rng.uniform(0.01, 0.3)
                # A fixed latency distribution per series: cumulative bucket shares.
                shares = 1 - np.exp(-np.asarray(BUCKETS) / scale)
                for le, share in zip(BUCKETS, shares, strict=True):
                    bucket = np.cumsum(rng.binomial(per_scrape, share)).astype(np.float64)
                    add(f"{hist}_bucket", {**base, "le": f"{le:g}"}, np.minimum(bucket, count))
                add(f"{hist}_bucket", {**base, "le": "+Inf"}, count)
                add(f"{hist}_count", base, count)
                durations = rng.exponential(scale, steps) * per_scrape
                add(f"{hist}_sum", base, np.cumsum(durations))
                add("http_server_requests_total", base, count)
    for route in range(routes):
        active = rng.poisson(1.5, steps).astype(np.float64)
        add("http_server_active_requests", {"http_route": f"/api/v1/r{route}"}, active)
    cpu = np.cumsum(rng.integers(0, 40, steps)) / 100.0
    add("process_cpu_seconds_total", {}, cpu)
    pages = 30_000 + np.cumsum(rng.integers(-20, 24, steps))
    add("process_resident_memory_bytes", {}, (pages * 4096).astype(np.float64))
    add("process_virtual_memory_bytes", {}, (pages * 4096 + 2**30).astype(np.float64))
    add("process_open_fds", {}, rng.integers(30, 40, steps).astype(np.float64))
    add("process_start_time_seconds", {}, np.full(steps, 1_699_990_000.12))
    for gen in ("0", "1", "2"):
        collected = np.cumsum(rng.poisson(200 / (int(gen) + 1), steps)).astype(np.float64)
        add("python_gc_objects_collected_total", {"generation": gen}, collected)
    for queue in ("emails", "reports", "thumbnails", "webhooks"):
        add("queue_oldest_item_age_seconds", {"queue": queue}, rng.exponential(3.0, steps))
        add("queue_depth", {"queue": queue}, rng.poisson(4, steps).astype(np.float64))
    add("up", {}, np.ones(steps))
    add("scrape_duration_seconds", {}, rng.uniform(0.002, 0.02, steps))
    add("scrape_samples_scraped", {}, np.full(steps, float(len(rows) + 4)))
    add("scrape_series_added", {}, np.zeros(steps))
    times = _scrape_times(rng, steps, interval_ms, start_ms)
    return SyntheticService(labels, times, np.vstack(rows))
