"""The access log: one line per request, written when the request ends.

A request hook of its own, installed by ``instrument(app, access_log=True)`` as the
*last* built-in hook: it begins after the server span started and ends before it
ends, so the line carries ``trace_id``/``span_id`` as well as the request's context
(request id, fields bound during the request), which the request-id hook (the
first to begin, the last to end) still holds. Logger ``watchkeeper.access``, level
INFO; fields follow the OpenTelemetry HTTP names used by the metrics.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # instrument imports this module: no import cycle at run time
    from watchkeeper.instrument.hooks import RequestEnd, RequestInfo

__all__ = ["AccessLogHook", "access_logger"]

access_logger = logging.getLogger("watchkeeper.access")


class AccessLogHook:
    """``AccessLogHook()``: see the module doc."""

    def begin(self, request: RequestInfo) -> tuple[str, str]:
        return request.method, request.path

    def response_headers(self, state: tuple[str, str]) -> tuple[()]:
        return ()

    def end(self, state: tuple[str, str], outcome: RequestEnd) -> None:
        if not access_logger.isEnabledFor(logging.INFO):
            return
        method, path = state
        duration_ms = round(outcome.duration_s * 1000, 3)
        access_logger.info(
            "%s %s %d %.1fms",
            method,
            outcome.route,
            outcome.status,
            duration_ms,
            extra={
                "http_request_method": method,
                "http_route": outcome.route,
                "url_path": path,
                "http_response_status_code": outcome.status,
                "duration_ms": duration_ms,
                "http_request_body_size": outcome.request_bytes,
                "http_response_body_size": outcome.response_bytes,
            },
        )
