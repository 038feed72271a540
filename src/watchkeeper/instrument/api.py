"""``watchkeeper.instrument(app)``: one line that adds golden-signal metrics and /metrics.

Supported: Starlette/FastAPI (instrumented in place), Flask (in place), Django's
WSGI and ASGI handlers, and any other ASGI or WSGI callable (wrapped). Always write
``app = watchkeeper.instrument(app, service="shop")``: the return value is the app
to serve (the same object where it could be changed in place).
"""

from __future__ import annotations

import inspect
import logging
import platform
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from watchkeeper._version import __version__
from watchkeeper.errors import ConfigurationError
from watchkeeper.health import DEFAULT as DEFAULT_CHECKS
from watchkeeper.health import Check, HealthEndpoints, HealthPaths, HealthRegistry
from watchkeeper.instrument import multiprocess, runtime
from watchkeeper.instrument._semconv import STREAM_CONTENT_TYPES, UNMATCHED_ROUTE
from watchkeeper.instrument.asgi import WatchkeeperMiddleware
from watchkeeper.instrument.config import Instrumentation
from watchkeeper.instrument.endpoint import MetricsAuth, MetricsEndpoint
from watchkeeper.instrument.errors import tracker as errors_tracker
from watchkeeper.instrument.hooks import RequestHook
from watchkeeper.instrument.http import HTTPMetrics
from watchkeeper.instrument.registry import REGISTRY, Registry
from watchkeeper.instrument.routes import StarletteRoutes
from watchkeeper.instrument.rum import RUM, RUMEndpoint
from watchkeeper.instrument.wsgi import WSGIMiddleware
from watchkeeper.logs.access_log import AccessLogHook
from watchkeeper.logs.request_hook import RequestIdHook
from watchkeeper.logs.setup import is_configured as logs_configured

__all__ = ["instrument"]

logger = logging.getLogger("watchkeeper")
A = TypeVar("A")


def instrument(
    app: A,
    service: str | None = None,
    *,
    version: str | None = None,
    metrics_path: str | None = "/metrics",
    metrics_token: str | None = None,
    metrics_basic_auth: tuple[str, str] | None = None,
    exclude_paths: Sequence[str] = (),
    stream_content_types: Sequence[str] = STREAM_CONTENT_TYPES,
    system_metrics: bool = False,
    loop_lag: bool = True,
    registry: Registry | None = None,
    health: bool = True,
    checks: Sequence[Check | Callable[[], Any]] = (),
    health_paths: HealthPaths | Mapping[str, str | None] | None = None,
    health_token: str | None = None,
    track_exceptions: bool = True,
    request_id: bool | None = None,
    access_log: bool = False,
    tracing: bool | None = None,
    profiling_token: str | None = None,
    profiling_path: str = "/debug/profile",
    hooks: Sequence[RequestHook] = (),
    rum: RUM | Sequence[str] | None = None,
) -> A:
    """Instrument ``app`` and return the app to serve.

    - ``service``: the service name on ``watchkeeper_build_info`` (default: the app's
      module or class name); ``version`` likewise.
    - ``metrics_path``: where the metrics are served (``None`` to not serve them, e.g.
      when another endpoint exposes the registry); ``metrics_token`` /
      ``metrics_basic_auth`` require credentials from scrapers.
    - ``exclude_paths``: exact paths not measured (the metrics and health paths never are).
    - ``stream_content_types``: response types measured as streams (see README).
    - ``system_metrics``: host CPU/memory/disk via psutil; ``loop_lag``: asyncio lag.
    - ``health``: serve ``/health`` (liveness), ``/ready`` (readiness) and
      ``/health/detailed`` over ``checks`` plus the process-wide ones
      (``watchkeeper.health.check``); ``health_paths`` moves or drops them,
      ``health_token`` protects the detailed report. See docs/health.md.
    - ``track_exceptions``: count, fingerprint and log unhandled exceptions
      (``watchkeeper_exceptions_total``); see instrument/errors.py.
    - ``request_id``: continue a safe incoming ``X-Request-ID`` or make one, echo it in
      the response and put it on every log line of the request (docs/logs.md). None
      (default): on when ``watchkeeper.logs.configure()`` ran before ``instrument()``
      (or with ``access_log``), since the ids serve log lines, and a request pays a
      few µs for them;
      ``access_log``: one log line per request (logger ``watchkeeper.access``).
    - ``profiling_token``: mount the live-profiling endpoint at ``profiling_path``
      (token-protected; nothing is mounted without a token). See docs/profiling.md.
    - ``tracing``: one OpenTelemetry SERVER span per request, W3C trace context in
      and out, exemplars on the duration histogram (docs/tracing.md). None (default):
      on when ``watchkeeper.tracing.configure()`` ran or an OpenTelemetry SDK
      TracerProvider is set, so call those first.
    - ``hooks``: your own request hooks (instrument/hooks.py), run after the built-in ones.
    - ``rum``: real-user monitoring, off by default: the allow-listed page routes
      (``rum=['/', '/products/{id}']``) or ``RUM(...)``; serves the browser snippet
      and its beacon endpoint. See docs/business.md.

    Calling it twice on the same app changes nothing and warns.
    """
    existing = getattr(app, "__watchkeeper__", None)
    if isinstance(existing, Instrumentation):
        warnings.warn(
            f"watchkeeper.instrument() was already called on this app (service "
            f"{existing.service!r}); the second call changed nothing",
            RuntimeWarning,
            stacklevel=2,
        )
        return app
    if metrics_path is not None and not metrics_path.startswith("/"):
        raise ConfigurationError(
            f"metrics_path must start with '/', got {metrics_path!r}: e.g. metrics_path='/metrics'"
        )
    reg = registry or REGISTRY
    name = service or _default_service(app)
    auth = None
    if metrics_token is not None or metrics_basic_auth is not None:
        auth = MetricsAuth(bearer_token=metrics_token, basic=metrics_basic_auth)
    endpoints = None
    if health:
        endpoints = _health_endpoints(app, reg, checks, health_paths, health_token, metrics_path)
    wk = Instrumentation(
        service=name,
        registry=reg,
        http=HTTPMetrics.of(reg),
        endpoint=MetricsEndpoint(reg, auth, multiprocess.merged_view(reg)),
        metrics_path=metrics_path,
        exclude_paths=frozenset(exclude_paths),
        stream_content_types=tuple(t.lower() for t in stream_content_types),
        loop_lag=loop_lag,
        health=endpoints,
    )
    if profiling_token is not None:
        from watchkeeper.profiling.endpoint import ProfileEndpoint

        wk.profile = ProfileEndpoint(profiling_token, profiling_path)
    if track_exceptions:
        wk.errors = errors_tracker(reg)
    wk.hooks = (
        *_builtin_hooks(
            wk,
            request_id=request_id,
            access_log=access_log,
            tracing=tracing,
        ),
        *hooks,
    )
    if tracing is not False or hooks:
        from watchkeeper.tracing.server import disable_framework_server_spans, exemplar_source_for

        wk.exemplar_of = exemplar_source_for(wk.hooks)
        if wk.exemplar_of is not None:
            disable_framework_server_spans(app)
    if rum is not None:
        wk.rum = _rum_endpoint(rum, reg, wk)
    _register_process_metrics(reg, name, version, system_metrics)
    return _attach(app, wk)


def _builtin_hooks(
    wk: Instrumentation,
    *,
    request_id: bool | None = None,
    access_log: bool = False,
    tracing: bool | None = None,
) -> list[RequestHook]:
    """The request hooks instrument() installs, in the order they begin."""
    built: list[RequestHook] = []
    if request_id is None:
        request_id = logs_configured()
    if request_id or access_log:
        # First: its log context is set before the other hooks begin (their lines carry
        # the request id) and cleared after they all ended.
        built.append(RequestIdHook())
    if tracing is not False:
        # Imported here: tracing imports instrument modules, and most apps never trace.
        from watchkeeper.tracing.server import ServerSpanHook, tracing_wanted

        if tracing_wanted(tracing):  # the span is current for the hooks after it
            built.append(ServerSpanHook())
    if access_log:
        # Last: it ends first, while the span is still current (trace ids on the line)
        # and the request id hook still holds the request's context.
        built.append(AccessLogHook())
    return built


def _rum_endpoint(option: RUM | Sequence[str], reg: Registry, wk: Instrumentation) -> RUMEndpoint:
    endpoint = RUMEndpoint(RUM.of(option), reg)
    taken = {wk.metrics_path, getattr(wk.profile, "path", None)}
    if wk.health is not None:
        taken.update(wk.health.paths.all())
    clash = sorted(p for p in endpoint.paths() if p in taken)
    if clash:
        raise ConfigurationError(
            f"rum paths {clash} are already served by watchkeeper (metrics, health or profile): "
            "move them, e.g. rum=RUM(pages=[...], path='/_rum', script_path='/_rum.js')"
        )
    return endpoint


def _health_endpoints(
    app: Any,
    reg: Registry,
    checks: Sequence[Check | Callable[[], Any]],
    paths_option: HealthPaths | Mapping[str, str | None] | None,
    token: str | None,
    metrics_path: str | None,
) -> HealthEndpoints:
    paths = HealthPaths.of(paths_option)
    if metrics_path is not None and metrics_path in paths.all():
        raise ConfigurationError(
            f"health path {metrics_path!r} is also the metrics_path: move one of them"
        )
    # A route the app already serves stays the app's: never shadow a user's own /health.
    taken = _app_paths(app) & set(paths.all())
    if taken:
        logger.warning(
            "watchkeeper: the app already serves %s; leaving it to the app. Pass "
            "health_paths={...} to serve watchkeeper's probes elsewhere.",
            ", ".join(sorted(taken)),
        )
        paths = HealthPaths(
            **{k: (None if v in taken else v) for k, v in _paths_dict(paths).items()}
        )
    registry = HealthRegistry(checks, registry=reg, parent=DEFAULT_CHECKS)
    return HealthEndpoints(registry, paths, token)


def _paths_dict(paths: HealthPaths) -> dict[str, str | None]:
    return {"live": paths.live, "ready": paths.ready, "detailed": paths.detailed}


def _app_paths(app: Any) -> set[str]:
    """Exact paths the app routes itself (Starlette/FastAPI routes, Flask rules)."""
    found: set[str] = set()
    try:
        if _is(app, "starlette.applications", "Starlette"):
            found.update(
                str(r.path) for r in app.routes if isinstance(getattr(r, "path", None), str)
            )
        elif _is(app, "flask.app", "Flask"):
            found.update(rule.rule for rule in app.url_map.iter_rules())
    except Exception as exc:  # route introspection is a courtesy; never fail instrument()
        logger.debug("watchkeeper: could not list the app's routes: %r", exc)
    return found


def _default_service(app: Any) -> str:
    module = getattr(app, "import_name", None) or type(app).__module__
    return str(module).split(".")[0] or "app"


def _register_process_metrics(
    reg: Registry, service: str, version: str | None, system: bool
) -> None:
    build = reg.gauge(
        "watchkeeper_build_info",
        "Always 1: the service, its version and the runtime, to join any series to its service.",
        ["service", "version", "watchkeeper_version", "python_version"],
        multiprocess_mode="livemax",
    )
    build.labels(service, version or "unknown", __version__, platform.python_version()).set(1)
    reg.register_collector("prometheus_client", runtime.prometheus_client_collector)
    if system:
        reg.register_collector("system", runtime.system_collector())


def _is(app: Any, module: str, cls: str) -> bool:
    mod = sys.modules.get(module)  # never import a framework the app does not use
    klass = getattr(mod, cls, None) if mod is not None else None
    return isinstance(klass, type) and isinstance(app, klass)


def _attach(app: A, wk: Instrumentation) -> A:
    target: Any = app
    if _is(target, "starlette.applications", "Starlette"):
        wk.route_of = StarletteRoutes(target)
        if target.middleware_stack is not None:
            logger.warning(
                "watchkeeper: %r has already started serving; wrapping it instead of adding "
                "middleware. Call instrument() before the app starts to keep it in place.",
                wk.service,
            )
            return WatchkeeperMiddleware(target, instrumentation=wk)  # type: ignore[return-value]
        target.add_middleware(WatchkeeperMiddleware, instrumentation=wk)
        target.__watchkeeper__ = wk
        return app
    if _is(target, "flask.app", "Flask"):
        wk.on_start_response = _flask_route_at_start_response
        _keep_flask_errors(target)
        target.wsgi_app = WSGIMiddleware(target.wsgi_app, instrumentation=wk)
        target.__watchkeeper__ = wk
        return app
    if _is(target, "django.core.handlers.wsgi", "WSGIHandler"):
        _patch_django(target, "get_response")
        return WSGIMiddleware(target, instrumentation=wk)  # type: ignore[return-value]
    if _is(target, "django.core.handlers.asgi", "ASGIHandler"):
        _patch_django(target, "get_response_async")
        return WatchkeeperMiddleware(target, instrumentation=wk)  # type: ignore[return-value]
    if _is_asgi(target):
        return WatchkeeperMiddleware(target, instrumentation=wk)  # type: ignore[return-value]
    if callable(target):
        return WSGIMiddleware(target, instrumentation=wk)  # type: ignore[return-value]
    raise ConfigurationError(
        f"watchkeeper.instrument() needs an ASGI or WSGI application, got {type(app).__name__}: "
        "pass your FastAPI/Starlette/Flask app or Django's get_wsgi_application()/"
        "get_asgi_application()"
    )


def _is_asgi(app: Any) -> bool:
    if inspect.isfunction(app) or inspect.ismethod(app):
        return inspect.iscoroutinefunction(app)
    return inspect.iscoroutinefunction(type(app).__call__)


def _flask_route_at_start_response(environ: dict[str, Any]) -> None:
    # When Flask calls start_response its request is still in the environ (it is
    # cleared when the request context pops, later) and url_rule holds the matched
    # template, blueprint prefixes included (None when nothing matched). Reading it
    # here costs far less than a request_started signal receiver.
    rule = getattr(environ.get("werkzeug.request"), "url_rule", None)
    if rule is not None:
        environ["watchkeeper.route"] = rule.rule


def _keep_flask_errors(app: Any) -> None:
    """Flask answers an unhandled exception with a 500 itself: keep the exception."""
    from flask import got_request_exception

    got_request_exception.connect(_stash_flask_error, app)


def _stash_flask_error(sender: Any, exception: BaseException, **extra: Any) -> None:
    from flask import request

    try:
        request.environ["watchkeeper.error"] = exception
    except Exception:  # never let error tracking break Flask's own error handling
        pass


def _stash_django_error(sender: Any, request: Any = None, **extra: Any) -> None:
    # Django turns an unhandled exception into a 500 itself and tells only this signal.
    try:
        target = getattr(request, "scope", None)
        if target is None:
            target = request.META
        target["watchkeeper.error"] = sys.exc_info()[1]
    except Exception:
        pass


def _patch_django(handler: Any, method: str) -> None:
    """Have Django's handler leave the matched URL pattern (and any exception it
    handled) where our middleware looks."""
    from django.core.signals import got_request_exception

    got_request_exception.connect(_stash_django_error, dispatch_uid="watchkeeper.error")
    original = getattr(handler, method)

    def stash(request: Any) -> None:
        try:
            match = getattr(request, "resolver_match", None)
            route = getattr(match, "route", None)
            target = getattr(request, "scope", None)
            if target is None:
                target = request.META
            target["watchkeeper.route"] = "/" + route.lstrip("^/") if route else UNMATCHED_ROUTE
        except Exception:  # never let route capture break Django's response
            pass

    if method == "get_response_async":

        async def get_response_async(request: Any) -> Any:
            response = await original(request)
            stash(request)
            return response

        setattr(handler, method, get_response_async)
    else:

        def get_response(request: Any) -> Any:
            response = original(request)
            stash(request)
            return response

        setattr(handler, method, get_response)
