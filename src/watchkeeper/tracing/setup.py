"""``configure()``: wire the OpenTelemetry SDK once, the way the OTEL_* variables say.

The SDK is an optional extra (``pip install 'watchkeeper[tracing]'``) imported only
here and only when ``configure()`` runs, so ``import watchkeeper`` stays light.

Sampling is parent-based: a request that arrives with a sampled ``traceparent`` is
traced, one with an unsampled parent is not, and a new trace is sampled with
``sample_ratio``. The root decision is ours (``WatchkeeperSampler``) so the request
hook can make it *before* touching OpenTelemetry (see server.py): a request with no
incoming trace context and a losing draw creates no span at all.
"""

from __future__ import annotations

import contextvars
import logging
import os
import random
import threading
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from watchkeeper.errors import ConfigurationError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.sdk.trace.sampling import Sampler
    from opentelemetry.trace import Tracer

__all__ = [
    "Exporter",
    "Setup",
    "build_provider",
    "configure",
    "current",
    "is_configured",
    "ratio_of",
    "require_otel",
    "shutdown",
]

logger = logging.getLogger("watchkeeper.tracing")

Exporter = Literal["otlp", "console", "none"]
INSTRUMENTATION_NAME = "watchkeeper"
_INSTALL_HINT = (
    "watchkeeper tracing needs the OpenTelemetry SDK: pip install 'watchkeeper[tracing]' "
    "(opentelemetry-api, opentelemetry-sdk, opentelemetry-exporter-otlp-proto-http)"
)

# The request hook's decision, visible to the sampler (which only sees spans without
# a parent) and to the middleware: True while the hook starts a server span the draw
# picked (the sampler samples it); False in a request that is not sampled (the draw
# dropped it, or its parent was unsampled), so any span started there without a
# parent is dropped too instead of becoming an orphan trace, and span() is a no-op;
# a string in a sampled request: the server span's exemplar labels
# (``trace_id="…",span_id="…"``); None outside requests.
REQUEST_DECISION: contextvars.ContextVar[bool | str | None] = contextvars.ContextVar(
    "watchkeeper_request_sampled", default=None
)


def require_otel() -> None:
    """Raise ConfigurationError with the install hint when the SDK is missing."""
    try:
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError as exc:
        raise ConfigurationError(_INSTALL_HINT) from exc


@dataclass(frozen=True)
class Setup:
    """What configure() built: the provider, watchkeeper's tracer, the root ratio.

    ``ratio`` is None when the sampler is not ours (a provider the app built, or an
    OTEL_TRACES_SAMPLER we do not model): the hook then asks OpenTelemetry for every
    request.
    """

    provider: TracerProvider
    tracer: Tracer
    ratio: float | None


class _State:
    setup: Setup | None = None
    global_provider: Any = None  # the first provider, made global: never shut down early
    lock = threading.Lock()


_state = _State()
# Root ratio of each provider build_provider() made (its sampler is ours).
_RATIOS: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()


def ratio_of(provider: Any) -> float | None:
    """The root sample ratio when ``provider``'s sampler is ours, else None."""
    try:
        return _RATIOS.get(provider)
    except TypeError:  # not weak-referenceable: not one of ours
        return None


def current() -> Setup | None:
    """The setup configure() made, or None."""
    return _state.setup


def is_configured() -> bool:
    return _state.setup is not None


def _make_sampler(ratio: float) -> Sampler:
    from opentelemetry.sdk.trace.sampling import (
        Decision,
        ParentBased,
        Sampler,
        SamplingResult,
        TraceIdRatioBased,
    )

    class WatchkeeperSampler(Sampler):
        """TraceIdRatioBased for roots, unless the request hook already decided."""

        def __init__(self, rate: float) -> None:
            self.rate = rate
            self._ratio = TraceIdRatioBased(rate)

        def should_sample(self, parent_context: Any, trace_id: int, *args: Any, **kw: Any) -> Any:
            decided = REQUEST_DECISION.get()
            if decided is True:
                attributes = args[2] if len(args) > 2 else kw.get("attributes")
                return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes)
            if decided is False:
                return SamplingResult(Decision.DROP)
            return self._ratio.should_sample(parent_context, trace_id, *args, **kw)

        def get_description(self) -> str:
            return f"WatchkeeperSampler{{{self.rate}}}"

    return ParentBased(root=WatchkeeperSampler(ratio))


def _env_ratio() -> float | None:
    """The root ratio the OTEL_TRACES_SAMPLER variables ask for, if we model it."""
    name = os.environ.get("OTEL_TRACES_SAMPLER", "").strip().lower()
    if name in ("", "parentbased_always_on"):
        return 1.0
    if name == "parentbased_always_off":
        return 0.0
    if name == "parentbased_traceidratio":
        arg = os.environ.get("OTEL_TRACES_SAMPLER_ARG", "1.0")
        try:
            value = float(arg)
        except ValueError:
            raise ConfigurationError(
                f"OTEL_TRACES_SAMPLER_ARG must be a number between 0 and 1, got {arg!r}"
            ) from None
        return _check_ratio(value, "OTEL_TRACES_SAMPLER_ARG")
    return None  # always_on, traceidratio, custom: the SDK's own sampler from the env


def _check_ratio(value: float, where: str) -> float:
    if not 0.0 <= value <= 1.0:
        raise ConfigurationError(f"{where} must be between 0 and 1, got {value!r}")
    return value


def _exporter(kind: str, endpoint: str | None, headers: dict[str, str] | None) -> SpanExporter:
    if kind == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if kind == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError as exc:
            raise ConfigurationError(_INSTALL_HINT) from exc
        # endpoint=None: the exporter reads OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT itself.
        if endpoint is not None and not endpoint.rstrip("/").endswith("/v1/traces"):
            endpoint = endpoint.rstrip("/") + "/v1/traces"  # what the base variable means
        return OTLPSpanExporter(endpoint=endpoint, headers=headers)
    raise ConfigurationError(
        f"tracing exporter must be 'otlp', 'console' or 'none', got {kind!r}"
        " (or set OTEL_TRACES_EXPORTER)"
    )


def build_provider(
    *,
    exporter: Exporter | SpanExporter | None = None,
    endpoint: str | None = None,
    headers: dict[str, str] | None = None,
    sample_ratio: float | None = None,
    service: str | None = None,
    batch: bool = True,
) -> tuple[TracerProvider, float | None]:
    """A TracerProvider as configure() builds it, without making it global."""
    require_otel()
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    ratio: float | None
    if sample_ratio is not None:
        ratio = _check_ratio(float(sample_ratio), "sample_ratio")
        sampler: Sampler | None = _make_sampler(ratio)
    else:
        ratio = _env_ratio()
        sampler = _make_sampler(ratio) if ratio is not None else None  # None: SDK reads env
    attrs: dict[str, Any] = {}
    if service and not os.environ.get("OTEL_SERVICE_NAME"):
        attrs["service.name"] = service  # the variable wins, as the spec says it should
    # Resource.create merges OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME.
    provider = TracerProvider(sampler=sampler, resource=Resource.create(attrs))
    kind: Any = exporter
    if kind is None:
        kind = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").split(",")[0].strip() or "otlp"
    if kind != "none":
        span_exporter = _exporter(kind, endpoint, headers) if isinstance(kind, str) else kind
        processor = (
            BatchSpanProcessor(span_exporter) if batch else SimpleSpanProcessor(span_exporter)
        )
        provider.add_span_processor(processor)
    if ratio is not None:
        _RATIOS[provider] = ratio
    return provider, ratio


def configure(
    exporter: Exporter | SpanExporter | None = None,
    *,
    endpoint: str | None = None,
    headers: dict[str, str] | None = None,
    sample_ratio: float | None = None,
    service: str | None = None,
    batch: bool = True,
) -> TracerProvider | None:
    """Wire the OpenTelemetry SDK: a TracerProvider with an exporter and a sampler.

    - ``exporter``: ``"otlp"`` (HTTP/protobuf, default; ``endpoint`` or the
      ``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``_TRACES_ENDPOINT`` variables), ``"console"``,
      ``"none"`` (spans are made, for exemplars and log correlation, but not sent), or
      any SpanExporter object. Default: ``OTEL_TRACES_EXPORTER``, else ``"otlp"``.
    - ``sample_ratio``: the share of new traces sampled (parent-based: an incoming
      sampled parent is always followed). Default: ``OTEL_TRACES_SAMPLER``/``_ARG``,
      else 1.0.
    - ``service``: ``service.name`` unless ``OTEL_SERVICE_NAME`` is set.
    - ``batch``: export from a background thread (BatchSpanProcessor); False exports
      inline (tests, short scripts).

    With ``OTEL_SDK_DISABLED=true`` nothing is wired and None is returned. Call it once
    at start-up, before ``watchkeeper.instrument(app)``; the first call also sets the
    global OpenTelemetry provider (libraries' own instrumentation uses it). A later
    call replaces what watchkeeper's own spans use (the global cannot be replaced).
    """
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        logger.info("watchkeeper tracing: OTEL_SDK_DISABLED=true, tracing stays off")
        return None
    provider, ratio = build_provider(
        exporter=exporter,
        endpoint=endpoint,
        headers=headers,
        sample_ratio=sample_ratio,
        service=service,
        batch=batch,
    )
    from opentelemetry import trace

    from watchkeeper._version import __version__

    tracer = provider.get_tracer(INSTRUMENTATION_NAME, __version__)
    with _state.lock:
        old, _state.setup = _state.setup, Setup(provider, tracer, ratio)
        if _state.global_provider is None:
            _state.global_provider = provider
            trace.set_tracer_provider(provider)
    if old is not None and old.provider is not _state.global_provider:
        old.provider.shutdown()
    return provider


def shutdown() -> None:
    """Flush and stop what configure() wired (also runs at interpreter exit)."""
    with _state.lock:
        setup = _state.setup
    if setup is not None:
        setup.provider.shutdown()


def draw(ratio: float) -> bool:
    """The root sampling draw (a module function so tests can see its contract)."""
    return ratio >= 1.0 or random.random() < ratio
