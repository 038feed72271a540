"""watchkeeper.logs: structured JSON logs with request and trace ids, redacted.

    import watchkeeper.logs
    watchkeeper.logs.configure(service="shop")          # stdlib logging -> JSON lines
    app = watchkeeper.instrument(app)                    # request ids on every line
    watchkeeper.logs.bind(user_id=42)                    # for the rest of the request

See docs/logs.md.
"""

from __future__ import annotations

from watchkeeper.logs.access_log import AccessLogHook
from watchkeeper.logs.binding import bind, clear, context, get_context, request_id, unbind
from watchkeeper.logs.console import ConsoleFormatter
from watchkeeper.logs.handlers import LineHandler, RotatingFileHandler
from watchkeeper.logs.json_format import JSONFormatter
from watchkeeper.logs.redaction import DEFAULT_KEYS, DEFAULT_PATTERNS, REDACTED, Pattern, Redactor
from watchkeeper.logs.request_hook import RequestIdHook
from watchkeeper.logs.setup import configure, unconfigure
from watchkeeper.logs.structlog_interop import StructlogRenderer, structlog_processors
from watchkeeper.logs.trace_ids import current_trace_ids

__all__ = [
    "AccessLogHook",
    "DEFAULT_KEYS",
    "DEFAULT_PATTERNS",
    "REDACTED",
    "ConsoleFormatter",
    "JSONFormatter",
    "LineHandler",
    "Pattern",
    "Redactor",
    "RequestIdHook",
    "RotatingFileHandler",
    "StructlogRenderer",
    "bind",
    "clear",
    "configure",
    "context",
    "current_trace_ids",
    "get_context",
    "request_id",
    "structlog_processors",
    "unbind",
    "unconfigure",
]
