"""The exemplar source: the current sampled span as ``trace_id``/``span_id`` labels.

The HTTP middlewares call it at the moment they record a request's duration
(inside the request, where the server span is current); the histogram keeps the
latest exemplar per bucket and shows it in the OpenMetrics exposition only.
"""

from __future__ import annotations

from collections.abc import Callable

from watchkeeper.tracing import setup

__all__ = ["ExemplarSource", "exemplar_source"]

# () -> 'trace_id="…",span_id="…"' (the label pairs, rendered once) or None.
ExemplarSource = Callable[[], str | None]


def exemplar_source() -> ExemplarSource:
    """A function returning the current sampled span's exemplar labels, or None."""
    setup.require_otel()
    from opentelemetry.trace import get_current_span

    decision = setup.REQUEST_DECISION.get

    def current_exemplar() -> str | None:
        if decision() is False:  # a request the draw dropped has no span: skip the lookup
            return None
        ctx = get_current_span().get_span_context()
        if not ctx.trace_flags & 1:  # unsampled (or invalid): no trace to jump to
            return None
        return f'trace_id="{ctx.trace_id:032x}",span_id="{ctx.span_id:016x}"'

    return current_exemplar
