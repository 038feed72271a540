"""watchkeeper.tracing: OpenTelemetry wiring, request spans, custom spans, exemplars.

    import watchkeeper
    from watchkeeper import tracing

    tracing.configure(exporter="otlp", sample_ratio=0.1, service="shop")
    app = watchkeeper.instrument(app)            # one SERVER span per request

    @watchkeeper.traced                          # a span per call
    def fatigue_detection(signal): ...

    with watchkeeper.span("data_validation", rows=len(rows)): ...

    httpx.Client(event_hooks=tracing.httpx_hooks())   # traceparent on outgoing calls

The OpenTelemetry SDK is the ``[tracing]`` extra, imported only by ``configure()``
and the request hook. See docs/tracing.md.
"""

from __future__ import annotations

from watchkeeper.tracing.propagation import async_httpx_hooks, httpx_hooks, inject
from watchkeeper.tracing.setup import configure, is_configured, shutdown
from watchkeeper.tracing.spans import SpanLike, span, traced

__all__ = [
    "SpanLike",
    "async_httpx_hooks",
    "configure",
    "httpx_hooks",
    "inject",
    "is_configured",
    "shutdown",
    "span",
    "traced",
]
