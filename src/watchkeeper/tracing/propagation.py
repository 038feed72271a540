"""W3C trace context in and out: extract from a request, inject into outgoing calls.

Out: ``inject(headers)`` adds ``traceparent``/``tracestate`` (and ``baggage``) for the
current span to a headers mapping; ``httpx_hooks()`` / ``async_httpx_hooks()`` give
httpx clients request hooks that do it on every call. Both go through the global
OpenTelemetry propagator (``OTEL_PROPAGATORS``), and both are no-ops without
OpenTelemetry or without a current span, so a library can call them unconditionally.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from watchkeeper.instrument.hooks import ASGIRequestInfo, RequestInfo

if TYPE_CHECKING:
    from opentelemetry.context import Context

__all__ = [
    "async_httpx_hooks",
    "extract",
    "httpx_hooks",
    "inject",
    "w3c_only",
]


def w3c_only() -> bool:
    """True when the configured propagators read only W3C headers (the default).

    Then a request without ``traceparent`` has no parent to follow, which lets the
    hook decide sampling before touching OpenTelemetry.
    """
    names = os.environ.get("OTEL_PROPAGATORS", "tracecontext,baggage")
    return {n.strip() for n in names.split(",") if n.strip()} <= {"tracecontext", "baggage"}


def inject(headers: MutableMapping[str, str] | None = None) -> MutableMapping[str, str]:
    """Add the current trace context to ``headers`` (a new dict when None); returns it."""
    carrier: MutableMapping[str, str] = {} if headers is None else headers
    if "opentelemetry.trace" not in sys.modules:  # nobody traces: nothing to propagate
        return carrier
    try:
        from opentelemetry import propagate

        propagate.inject(carrier)
    except Exception:  # propagation is a courtesy; never break the caller's request
        pass
    return carrier


def _inject_httpx(request: Any) -> None:
    if "opentelemetry.trace" not in sys.modules:
        return
    extra = inject({})
    for key, value in extra.items():
        if key not in request.headers:  # the caller's own header wins
            request.headers[key] = value


def httpx_hooks() -> dict[str, list[Callable[[Any], None]]]:
    """``httpx.Client(event_hooks=watchkeeper.tracing.httpx_hooks())``."""
    return {"request": [_inject_httpx]}


async def _inject_httpx_async(request: Any) -> None:
    _inject_httpx(request)


def async_httpx_hooks() -> dict[str, list[Callable[[Any], Awaitable[None]]]]:
    """``httpx.AsyncClient(event_hooks=watchkeeper.tracing.async_httpx_hooks())``."""
    return {"request": [_inject_httpx_async]}


class _Getter:
    """OpenTelemetry's Getter protocol over a RequestInfo (ASGI scope or WSGI environ)."""

    def get(self, carrier: RequestInfo, key: str) -> list[str] | None:
        value = carrier.header(key.lower())
        return None if value is None else [value]

    def keys(self, carrier: RequestInfo) -> list[str]:
        if isinstance(carrier, ASGIRequestInfo):
            return [bytes(k).decode("latin-1") for k, _ in carrier.raw.get("headers") or ()]
        return [k[5:].lower().replace("_", "-") for k in carrier.raw if str(k).startswith("HTTP_")]


_GETTER = _Getter()


def extract(request: RequestInfo) -> Context:
    """The context the request's headers carry (empty when they carry none)."""
    from opentelemetry import propagate

    return propagate.extract(request, getter=_GETTER)  # type: ignore[arg-type]
