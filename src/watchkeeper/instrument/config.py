"""One instrumented application's settings and the objects its middleware uses."""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from watchkeeper.instrument._semconv import STREAM_CONTENT_TYPES
from watchkeeper.instrument.endpoint import MetricsEndpoint
from watchkeeper.instrument.http import HTTPMetrics
from watchkeeper.instrument.registry import Registry
from watchkeeper.instrument.routes import generic_route

if TYPE_CHECKING:  # health imports instrument: no import cycle at run time
    from watchkeeper.health.endpoints import HealthEndpoints
    from watchkeeper.instrument.errors import ErrorTracker
    from watchkeeper.instrument.hooks import RequestHook
    from watchkeeper.instrument.rum import RUMEndpoint
    from watchkeeper.profiling.endpoint import ProfileEndpoint

__all__ = ["Instrumentation"]


@dataclass(eq=False)
class Instrumentation:
    """What ``instrument()`` built for one app; shared by its ASGI or WSGI middleware."""

    service: str
    registry: Registry
    http: HTTPMetrics
    endpoint: MetricsEndpoint
    metrics_path: str | None = "/metrics"
    exclude_paths: frozenset[str] = frozenset()
    stream_content_types: tuple[str, ...] = STREAM_CONTENT_TYPES
    loop_lag: bool = True
    route_of: Callable[[MutableMapping[str, Any]], str] = field(default=generic_route)
    # WSGI only: called with the environ when the app calls start_response (Flask
    # leaves its matched rule there for us).
    on_start_response: Callable[[dict[str, Any]], None] | None = None
    # The probe endpoints (/health, /ready, /health/detailed); None when disabled.
    health: HealthEndpoints | None = None
    # Per-request work inside the request's context (request ids, spans, error
    # tracking), begun in order and ended in reverse; see hooks.py.
    hooks: tuple[RequestHook, ...] = ()
    # Error tracking (errors.py); None when turned off.
    errors: ErrorTracker | None = None
    # Tracing on: returns the current sampled span's exemplar labels (or None) at the
    # moment a request's duration is recorded; None when tracing is off (no cost).
    exemplar_of: Callable[[], str | None] | None = None
    # The live-profiling endpoint; None (the default) unless a profiling token is set.
    profile: ProfileEndpoint | None = None
    # Real-user monitoring: the beacon and script endpoints; None unless rum= is set.
    rum: RUMEndpoint | None = None
