"""The active OpenTelemetry span's ids, read without importing OpenTelemetry.

Every log line asks; most apps have no tracing. So the check is one dict lookup
in ``sys.modules``: only an app (or watchkeeper.tracing) that imported
``opentelemetry.trace`` pays for reading the current span.
"""

from __future__ import annotations

import sys

__all__ = ["current_trace_ids"]

_modules = sys.modules


def current_trace_ids() -> tuple[str, str] | None:
    """(trace_id as 32 hex, span_id as 16 hex) of the current valid span, else None."""
    trace = _modules.get("opentelemetry.trace")
    if trace is None:
        return None
    try:
        ctx = trace.get_current_span().get_span_context()
        if not ctx.is_valid:
            return None
        return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")
    except Exception:  # a half-imported or foreign module: no ids, never an error
        return None
