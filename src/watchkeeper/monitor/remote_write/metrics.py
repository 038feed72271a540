"""The remote writers' metrics, read at scrape time from their counters."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from watchkeeper.monitor.remote_write.writer import OUTCOMES, RemoteWriter

__all__ = ["RemoteWriteCollector"]


class RemoteWriteCollector(Collector):
    """``watchkeeper_remote_write_*`` for every endpoint, labelled ``url`` (no credentials)."""

    def __init__(self, writers: Sequence[RemoteWriter]) -> None:
        self._writers = list(writers)

    def collect(self) -> Iterator[Metric]:
        samples = CounterMetricFamily(
            "watchkeeper_remote_write_samples",
            "Samples by outcome: sent (2xx), rejected (4xx, not retried), dropped (queue "
            "full, oldest first), failed (unsent at shutdown).",
            labels=["url", "outcome"],
        )
        retries = CounterMetricFamily(
            "watchkeeper_remote_write_retries",
            "Requests retried after a 5xx, a 429 or a network error.",
            labels=["url"],
        )
        sent_bytes = CounterMetricFamily(
            "watchkeeper_remote_write_sent_bytes",
            "Compressed request bytes accepted by the receiver.",
            labels=["url"],
        )
        queued = GaugeMetricFamily(
            "watchkeeper_remote_write_queue_samples",
            "Samples waiting to be sent.",
            labels=["url"],
        )
        capacity = GaugeMetricFamily(
            "watchkeeper_remote_write_queue_capacity_samples",
            "Samples the queue holds before dropping the oldest.",
            labels=["url"],
        )
        newest = GaugeMetricFamily(
            "watchkeeper_remote_write_sent_timestamp_seconds",
            "Timestamp of the newest sample the receiver accepted (time() minus it is the lag).",
            labels=["url"],
        )
        for w in self._writers:
            url = w.config.name
            for outcome in OUTCOMES:
                samples.add_metric([url, outcome], float(w.counts[outcome]))
            retries.add_metric([url], float(w.retries))
            sent_bytes.add_metric([url], float(w.bytes_sent))
            queued.add_metric([url], float(w.queued()))
            capacity.add_metric([url], float(w.config.capacity))
            newest.add_metric([url], w.last_sent_timestamp_ms / 1000)
        yield from (samples, retries, sent_bytes, queued, capacity, newest)
