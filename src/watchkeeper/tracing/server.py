"""The server-span request hook: one SERVER span per request, made current for the app.

``begin`` continues the W3C trace context the request carries (``traceparent``,
``tracestate``), starts a span named by the method with the current HTTP semantic
convention attributes, and attaches it as the current context so the app's own
spans, outgoing calls and log lines join the trace. ``end`` adds the route (the
span is renamed ``"{method} {route}"``), the status code, ``error.type`` and the
exception, sets status ERROR for 5xx, ends the span and detaches the context.
There are no per-chunk send/receive spans: they are most of what OpenTelemetry's
ASGI instrumentation costs, and nobody reads them.

Sampling before OpenTelemetry: when the provider's sampler is watchkeeper's and
the propagators read only W3C headers, a request without ``traceparent`` is
decided with one random draw first. A losing draw creates no span and touches no
OpenTelemetry code: the request pays a header scan, the draw and a context-variable
set and reset (docs/benchmarks.md has the measured cost). The
trade-off (docs/tracing.md): such a request has no trace id (its log lines carry
none) and sends no ``traceparent`` with ``sampled=0`` downstream, so a downstream
service decides for itself; any span started inside it without a parent is
dropped rather than becoming an orphan trace.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable, MutableMapping, Sequence
from contextvars import Token
from typing import TYPE_CHECKING, Any

from watchkeeper.instrument._semconv import UNMATCHED_ROUTE
from watchkeeper.instrument.errors import is_app_error
from watchkeeper.instrument.hooks import ASGIRequestInfo, RequestEnd, RequestInfo
from watchkeeper.tracing import setup
from watchkeeper.tracing.propagation import extract, w3c_only

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span, Tracer

__all__ = ["ServerSpanHook", "exemplar_source_for", "tracing_wanted"]

_MAX_USER_AGENT = 512  # attribute values are bounded like every other input
_MAX_PATH = 2048
_DECISION = setup.REQUEST_DECISION
_DRAW_WON = "watchkeeper.trace_draw_won"  # scope key: skip_asgi drew "sample" already
_STATE = setup._state


class _Traced:
    __slots__ = ("decision", "method", "span", "token")

    def __init__(self, span: Span, token: Any, decision: Any, method: str) -> None:
        self.span = span
        self.token = token  # the OpenTelemetry context attached for the app
        self.decision = decision  # the REQUEST_DECISION set, undone at the end
        self.method = method


class ServerSpanHook:
    """``RequestHook`` making the request's SERVER span (see the module docstring).

    ``tracer_provider``: the provider to use; default: the one ``configure()`` made,
    else the global OpenTelemetry provider (looked up per request, so a provider set
    after ``instrument()`` is still found).
    """

    def __init__(self, tracer_provider: TracerProvider | None = None) -> None:
        setup.require_otel()
        from opentelemetry import context, trace
        from opentelemetry.trace import SpanKind, Status, StatusCode

        from watchkeeper._version import __version__

        self._attach = context.attach
        self._detach = context.detach
        self._set_span = trace.set_span_in_context
        self._server = SpanKind.SERVER
        self._error = Status(StatusCode.ERROR)
        self._w3c = w3c_only()
        self._fixed: tuple[Tracer, float | None] | None = None
        if tracer_provider is not None:
            tracer = tracer_provider.get_tracer(setup.INSTRUMENTATION_NAME, __version__)
            self._fixed = (tracer, setup.ratio_of(tracer_provider))
        self._global = trace.get_tracer(setup.INSTRUMENTATION_NAME, __version__)

    def skip_asgi(self, scope: MutableMapping[str, Any]) -> Token[bool | str | None] | None:
        """The whole tracing of an ASGI request the draw drops: one header scan, one
        random draw, one context-variable set (the Token, reset by the middleware at
        the end). None when the request gets a span (begin() follows and does not draw
        again: the scope says the draw was won) or may get one (incoming context)."""
        fixed = self._fixed
        if fixed is None:
            current = _STATE.setup
            ratio = current.ratio if current else None
        else:
            ratio = fixed[1]
        if ratio is None or not self._w3c:
            return None
        for key, _ in scope.get("headers") or ():
            if key == b"traceparent":
                return None
        if ratio < 1.0 and random.random() >= ratio:
            return _DECISION.set(False)
        scope[_DRAW_WON] = True
        return None

    def begin(self, request: RequestInfo) -> _Traced | Token[bool | str | None]:
        # Written for the unsampled request: a few attribute loads, one header scan,
        # one random draw, one contextvar set; no OpenTelemetry call, no Python call.
        fixed = self._fixed
        if fixed is None:  # the default hook: what configure() made, read without a call
            current = _STATE.setup
            tracer, ratio = (current.tracer, current.ratio) if current else (self._global, None)
        else:
            tracer, ratio = fixed
        root = False  # no incoming context to follow: the decision is ours
        if ratio is not None and self._w3c:
            if type(request) is ASGIRequestInfo:
                root = True
                for key, _ in request.raw.get("headers") or ():
                    if key == b"traceparent":
                        root = False
                        break
            else:
                root = request.header("traceparent") is None
        if root and ratio is not None:
            if ratio < 1.0 and not request.raw.get(_DRAW_WON) and random.random() >= ratio:
                return _DECISION.set(False)  # the state: only the decision to undo
            decision = _DECISION.set(True)  # the sampler samples this root span
            parent = None
        else:
            decision = None
            parent = extract(request)
        try:
            span = tracer.start_span(
                request.method, context=parent, kind=self._server, attributes=_attributes(request)
            )
            ctx = span.get_span_context()
            # For the rest of the request: the exemplar labels of a sampled span (what
            # the middleware reads when it records the duration), False otherwise.
            value: str | bool = (
                f'trace_id="{ctx.trace_id:032x}",span_id="{ctx.span_id:016x}"'
                if ctx.trace_flags & 1
                else False
            )
            if decision is None:
                decision = _DECISION.set(value)
            else:
                _DECISION.set(value)  # reset(decision) at the end undoes both sets
        except BaseException:
            if decision is not None:
                _DECISION.reset(decision)
            raise
        token = self._attach(self._set_span(span, parent))
        return _Traced(span, token, decision, request.method)

    def response_headers(self, state: object) -> tuple[()]:
        return ()

    def end(self, state: _Traced | Token[bool | str | None], outcome: RequestEnd) -> None:
        if type(state) is not _Traced:  # a request the draw dropped
            _DECISION.reset(state)  # type: ignore[arg-type]
            return
        span = state.span
        try:
            if span.is_recording():
                self._finish(span, state.method, outcome)
        finally:
            span.end()
            self._detach(state.token)
            _DECISION.reset(state.decision)

    def _finish(self, span: Span, method: str, outcome: RequestEnd) -> None:
        status = outcome.status
        attrs: dict[str, str | int] = {"http.response.status_code": status}
        route = outcome.route
        if route and route != UNMATCHED_ROUTE:
            attrs["http.route"] = route
            span.update_name(f"{method} {route}")
        error = outcome.error
        if error is not None and status != 499 and is_app_error(error):
            span.record_exception(error)
            kind = type(error)
            module = kind.__module__
            name = kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"
            attrs["error.type"] = name
            span.set_status(self._error.status_code, f"{kind.__qualname__}: {error}"[:256])
        elif status >= 500:
            attrs["error.type"] = str(status)
            span.set_status(self._error)
        span.set_attributes(attrs)  # one call: each takes the span's lock


def _attributes(request: RequestInfo) -> dict[str, str | int]:
    """Request attributes known at the start (the sampler sees them too)."""
    attrs: dict[str, str | int] = {
        "http.request.method": request.method,
        "url.path": request.path[:_MAX_PATH],
        "url.scheme": request.scheme,
        "network.protocol.version": request.http_version,
    }
    host = request.header("host")
    if host:
        name, port = _split_host(host)
        attrs["server.address"] = name
        if port is not None:
            attrs["server.port"] = port
    else:
        server = request.server
        if server is not None:
            attrs["server.address"] = server[0]
            attrs["server.port"] = server[1]
    client = request.client
    if client is not None:
        attrs["client.address"] = client[0]
    agent = request.header("user-agent")
    if agent:
        attrs["user_agent.original"] = agent[:_MAX_USER_AGENT]
    return attrs


def _split_host(host: str) -> tuple[str, int | None]:
    """``example.com:8080`` -> ("example.com", 8080); ``[::1]:80`` -> ("::1", 80)."""
    if host.startswith("["):
        end = host.find("]")
        name, rest = host[1:end], host[end + 1 :]
        port = rest[1:] if rest.startswith(":") else ""
    else:
        name, _, port = host.partition(":")
    return name[:255], int(port) if port.isdigit() and len(port) <= 5 else None


def tracing_wanted(tracing: bool | None) -> bool:
    """instrument(tracing=...): None means on when configure() ran or an
    OpenTelemetry SDK TracerProvider is the global one."""
    if tracing is not None:
        return tracing
    if setup.is_configured():
        return True
    if "opentelemetry.sdk.trace" not in sys.modules:  # nobody set up an SDK provider
        return False
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    return isinstance(trace.get_tracer_provider(), TracerProvider)


def exemplar_source_for(hooks: Sequence[object]) -> Callable[[], str | None] | None:
    """The exemplar source when one of ``hooks`` makes server spans, else None."""
    if any(isinstance(hook, ServerSpanHook) for hook in hooks):
        from watchkeeper.tracing.exemplars import exemplar_source

        return exemplar_source()
    return None


def disable_framework_server_spans(app: object) -> None:
    """Keep a framework's own request span from doubling ours.

    FastAPI (0.16x) opens its own SERVER span from the request headers whenever an
    OpenTelemetry provider is set, outside our middleware, and parents it on the
    incoming context, not on ours: two sibling server spans per request. Its
    ``telemetry={"tracing": False}`` switch turns that off; we flip it for the app
    we trace (its metrics and logs settings are left alone).
    """
    config = getattr(app, "_telemetry", None)
    if isinstance(config, dict) and config.get("tracing") and hasattr(app, "_native_telemetry"):
        config["tracing"] = False
