"""The HTTP server metric set and its one-lock recording step, shared by ASGI and WSGI."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

from watchkeeper.instrument._semconv import (
    DURATION_BUCKETS,
    HTTP_LABELS,
    SIZE_BUCKETS,
    STREAM_BUCKETS,
)
from watchkeeper.instrument.metrics import UPDATE_LOCK, GaugeChild
from watchkeeper.instrument.registry import Registry

__all__ = ["HTTPMetrics"]

_STATUS = {code: str(code) for code in range(100, 600)}


class HTTPMetrics:
    """``http_server_*`` families of one registry (created once, shared by every app)."""

    def __init__(self, registry: Registry, duration_buckets: Sequence[float] = DURATION_BUCKETS):
        self.duration = registry.histogram(
            "http_server_request_duration_seconds",
            "Duration of HTTP server requests, until the last body byte was sent.",
            HTTP_LABELS,
            buckets=duration_buckets,
        )
        self.request_size = registry.histogram(
            "http_server_request_body_size_bytes",
            "Size of HTTP request bodies as received (chunked bodies included).",
            HTTP_LABELS,
            buckets=SIZE_BUCKETS,
        )
        self.response_size = registry.histogram(
            "http_server_response_body_size_bytes",
            "Size of HTTP response bodies as sent (chunked and streamed bodies included).",
            HTTP_LABELS,
            buckets=SIZE_BUCKETS,
        )
        self.active = registry.gauge(
            "http_server_active_requests",
            "Number of HTTP server requests in flight.",
            ["http_request_method"],
        )
        self.stream_duration = registry.histogram(
            "http_server_stream_duration_seconds",
            "Full duration of streaming responses (server-sent events, NDJSON), which are "
            "kept out of the request-duration histogram.",
            ["http_request_method", "http_route"],
            buckets=STREAM_BUCKETS,
        )

    def active_child(self, method: str) -> GaugeChild:
        return self.active.labels(method)

    def record(
        self,
        method: str,
        route: str,
        status: int,
        error_type: str,
        duration: float,
        request_bytes: int,
        response_bytes: int,
        active: GaugeChild | None,
    ) -> None:
        """One finished request: three histograms and the in-flight gauge, under one lock."""
        key = (method, route, _STATUS.get(status) or str(status), error_type)
        d = self.duration._children.get(key) or self.duration.labels(*key)
        q = self.request_size._children.get(key) or self.request_size.labels(*key)
        r = self.response_size._children.get(key) or self.response_size.labels(*key)
        with UPDATE_LOCK:
            d.counts[bisect_left(d.bounds, duration)] += 1
            d.sum += duration
            q.counts[bisect_left(q.bounds, request_bytes)] += 1
            q.sum += request_bytes
            r.counts[bisect_left(r.bounds, response_bytes)] += 1
            r.sum += response_bytes
            if active is not None:
                active.value -= 1

    def record_stream(self, method: str, route: str, duration: float) -> None:
        self.stream_duration.labels(method, route).observe(duration)
