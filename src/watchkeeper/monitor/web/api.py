"""The Prometheus-compatible HTTP API (``/api/v1/...``), so Grafana can use the monitor
as a Prometheus data source and ``promtool``-style clients work unchanged.

``create_api`` builds a Starlette app from narrow dependencies (``ApiDeps``: an
engine, a ``Queryable``, a targets callable, ...); ``server.py`` wires the real ones.
Shapes, status codes and error types follow Prometheus' web/api/v1/api.go; the
handlers live in ``query_api`` and ``meta_api``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from watchkeeper.monitor.web import meta_api, query_api
from watchkeeper.monitor.web.deps import ApiDeps, QueryEngine
from watchkeeper.monitor.web.params import ParamError
from watchkeeper.monitor.web.request import error_response

__all__ = ["ApiDeps", "QueryEngine", "api_routes", "create_api"]

Handler = Callable[[Request, ApiDeps], Awaitable[Response]]


def _endpoint(handler: Handler, deps: ApiDeps) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request, deps)
        except ParamError as exc:
            return error_response("bad_data", str(exc))

    return endpoint


_ROUTES: Mapping[str, tuple[Handler, tuple[str, ...]]] = {
    "/api/v1/query": (query_api.query, ("GET", "POST")),
    "/api/v1/query_range": (query_api.query_range, ("GET", "POST")),
    "/api/v1/series": (meta_api.series, ("GET", "POST")),
    "/api/v1/labels": (meta_api.labels, ("GET", "POST")),
    "/api/v1/label/{name}/values": (meta_api.label_values, ("GET",)),
    "/api/v1/targets": (meta_api.targets, ("GET",)),
    "/api/v1/status/buildinfo": (meta_api.buildinfo, ("GET",)),
    "/api/v1/rules": (meta_api.rules, ("GET",)),
    "/api/v1/alerts": (meta_api.alerts, ("GET",)),
    # Grafana asks for these; we have no metadata or exemplars (yet) to offer.
    "/api/v1/metadata": (meta_api.empty_object, ("GET",)),
    "/api/v1/query_exemplars": (meta_api.empty_list, ("GET", "POST")),
    "/-/healthy": (meta_api.healthy, ("GET", "HEAD")),
    "/-/ready": (meta_api.ready, ("GET", "HEAD")),
    "/metrics": (meta_api.metrics, ("GET",)),
}


def api_routes(deps: ApiDeps) -> list[BaseRoute]:
    """The API's routes, for mounting next to the console's pages in one app."""
    return [
        Route(path, _endpoint(handler, deps), methods=list(methods))
        for path, (handler, methods) in _ROUTES.items()
    ]


def create_api(deps: ApiDeps) -> Starlette:
    """A Starlette app serving only the API (the server adds auth and limits around it)."""
    return Starlette(routes=api_routes(deps))
