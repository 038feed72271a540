"""Names, labels and buckets users see: OpenTelemetry HTTP semantic conventions,
written the Prometheus way (dots become underscores, units become suffixes)."""

from __future__ import annotations

__all__ = [
    "DURATION_BUCKETS",
    "HTTP_LABELS",
    "KNOWN_METHODS",
    "OTHER_METHOD",
    "SIZE_BUCKETS",
    "STREAM_BUCKETS",
    "STREAM_CONTENT_TYPES",
    "UNMATCHED_ROUTE",
    "normalize_method",
]

# semconv's advisory buckets for http.server.request.duration (seconds).
DURATION_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)  # fmt: skip
# Body sizes in bytes: decades keep the series count low while separating tiny JSON
# replies from uploads and downloads.
SIZE_BUCKETS: tuple[float, ...] = (100.0, 1_000.0, 10_000.0, 100_000.0, 1_000_000.0, 10_000_000.0)
# Long-lived streams (server-sent events, NDJSON token streams) last seconds to hours.
STREAM_BUCKETS: tuple[float, ...] = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 14400.0)

HTTP_LABELS = ("http_request_method", "http_route", "http_response_status_code", "error_type")

KNOWN_METHODS = frozenset(
    {"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY", "TRACE"}
)
OTHER_METHOD = "_OTHER"
# The one route value shared by every request that matched no route (404 scans,
# bots): the raw path never becomes a label.
UNMATCHED_ROUTE = "_unmatched"

# Responses of these types are streams: their request-duration sample is the time
# to the response head, and their full length goes to http_server_stream_duration_seconds.
STREAM_CONTENT_TYPES: tuple[str, ...] = ("text/event-stream", "application/x-ndjson")


def normalize_method(method: str) -> str:
    """The method as a bounded label value: unknown methods become ``_OTHER``."""
    return method if method in KNOWN_METHODS else OTHER_METHOD
