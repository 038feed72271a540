"""The monitor's own metrics, in a private registry served at ``/metrics``.

A private ``CollectorRegistry`` keeps them apart from whatever the hosting
process registers globally (the SDK's metrics, if the monitor runs in-process).
Storage figures are read at scrape time from ``stats()`` so they are never stale.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

__all__ = ["MonitorMetrics", "StatsCollector"]

_QUERY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_BAD_CHARS = re.compile(r"[^a-zA-Z0-9_]")


class StatsCollector(Collector):
    """Expose a ``stats() -> dict[str, float]`` callable as gauges ``<prefix>_<key>``."""

    def __init__(self, prefix: str, stats: Callable[[], Mapping[str, float]]) -> None:
        self._prefix = prefix
        self._stats = stats

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            stats = self._stats()
        except Exception:  # a failing store must not break /metrics
            return
        for key, value in sorted(stats.items()):
            name = f"{self._prefix}_{_BAD_CHARS.sub('_', key)}"
            yield GaugeMetricFamily(name, f"Storage statistic {key!r}.", value=float(value))


class MonitorMetrics:
    """Counters and histograms the server and API update."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.query_duration = Histogram(
            "watchkeeper_query_duration_seconds",
            "Time spent evaluating PromQL queries through the HTTP API.",
            ["endpoint"],
            buckets=_QUERY_BUCKETS,
            registry=self.registry,
        )
        self.query_errors = Counter(
            "watchkeeper_query_errors",
            "PromQL queries that failed, by Prometheus error type.",
            ["endpoint", "error_type"],
            registry=self.registry,
        )
        self.samples_appended = Counter(
            "watchkeeper_tsdb_samples_appended",
            "Samples accepted by the storage (scraped or imported by this process).",
            registry=self.registry,
        )
        self.samples_rejected = Counter(
            "watchkeeper_tsdb_samples_rejected",
            "Samples the storage rejected: out of order or duplicate timestamps.",
            registry=self.registry,
        )

    def add_stats(self, prefix: str, stats: Callable[[], Mapping[str, float]]) -> None:
        self.registry.register(StatsCollector(prefix, stats))
