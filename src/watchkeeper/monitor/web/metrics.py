"""The monitor's own metrics, in a private registry served at ``/metrics``.

A private ``CollectorRegistry`` keeps them apart from whatever the hosting
process registers globally (the SDK's metrics, if the monitor runs in-process).
Storage figures are read at scrape time from ``stats()`` so they are never stale.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["MonitorMetrics", "StatsCollector"]

_QUERY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_BAD_CHARS = re.compile(r"[^a-zA-Z0-9_]")


class StatsCollector(Collector):
    """Expose a ``stats() -> dict[str, float]`` callable as ``<prefix>_<key>`` metrics.

    Keys accepted by ``is_counter`` become counters (``..._total``, so ``rate()``
    works on them: the ingest rate is ``rate(watchkeeper_tsdb_samples_appended_total[1m])``);
    the rest are gauges.
    """

    def __init__(
        self,
        prefix: str,
        stats: Callable[[], Mapping[str, float]],
        is_counter: Callable[[str], bool] = lambda key: False,
    ) -> None:
        self._prefix = prefix
        self._stats = stats
        self._is_counter = is_counter

    def collect(self) -> Iterator[Metric]:
        try:
            stats = self._stats()
        except Exception:  # a failing store must not break /metrics
            return
        for key, value in sorted(stats.items()):
            name = f"{self._prefix}_{_BAD_CHARS.sub('_', key)}"
            if name.endswith("_ms"):  # base units, as promtool check metrics asks
                name, value = name[:-3] + "_seconds", value / 1000
            doc = f"Storage statistic {key!r}."
            if self._is_counter(key):
                yield CounterMetricFamily(name, doc, value=float(value))
            else:
                yield GaugeMetricFamily(name, doc, value=float(value))


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

    def add_stats(
        self,
        prefix: str,
        stats: Callable[[], Mapping[str, float]],
        is_counter: Callable[[str], bool] = lambda key: False,
    ) -> None:
        self.registry.register(StatsCollector(prefix, stats, is_counter))
