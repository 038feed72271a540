"""The Prometheus-compatible HTTP API (``/api/v1/...``), so Grafana can use the monitor
as a Prometheus data source and ``promtool``-style clients work unchanged.

``create_api`` builds a Starlette app from narrow dependencies (an engine, a
``Queryable``, a targets callable); ``server.py`` wires the real ones. Shapes,
status codes and error types follow Prometheus' web/api/v1/api.go.

Queries run in worker threads, at most ``max_concurrent_queries`` at a time (like
Prometheus' ``--query.max-concurrency``): the event loop stays free for scrapes,
probes and other requests while a slow query runs (numpy releases the GIL for the
heavy parts). The storage is thread-safe; the engine's own timeout bounds a query.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl

import anyio
import anyio.to_thread
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from watchkeeper._version import __version__
from watchkeeper.errors import QueryError
from watchkeeper.monitor.model import Labels, Matcher, Queryable
from watchkeeper.monitor.promql.value import Matrix, Value
from watchkeeper.monitor.web.json import dumps, encode_success, error_body, success_body
from watchkeeper.monitor.web.metrics import MonitorMetrics
from watchkeeper.monitor.web.params import (
    MAX_TIME_MS,
    MIN_TIME_MS,
    ParamError,
    parse_duration_ms,
    parse_matchers,
    parse_time_ms,
)
from watchkeeper.monitor.web.targets import TargetView, render_targets

__all__ = ["ApiDeps", "QueryEngine", "api_routes", "create_api"]

log = logging.getLogger("watchkeeper.monitor.web")

MAX_POINTS_PER_SERIES = 11_000  # Prometheus' limit on (end - start) / step
MAX_QUERY_CHARS = 64 << 10
_LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_STATUS = {
    "bad_data": 400,
    "execution": 422,
    "canceled": 503,
    "timeout": 503,
    "unavailable": 503,
    "not_found": 404,
    "internal": 500,
}


class QueryEngine(Protocol):
    """The evaluator's surface the API uses (``watchkeeper.monitor.promql.Engine``)."""

    def instant_query(self, expr: str, time_ms: int) -> Value: ...

    def range_query(self, expr: str, start_ms: int, end_ms: int, step_ms: int) -> Matrix: ...


@dataclass
class ApiDeps:
    """Everything the API reads; the defaults describe a monitor scraping nothing."""

    engine: QueryEngine
    storage: Queryable
    targets: Callable[[], Sequence[TargetView]] = lambda: ()
    ready: Callable[[], bool] = lambda: True
    # Prometheus-shaped rule groups and firing/pending alerts, from the rules manager
    # once it is wired; empty until then (Grafana's alert views ask for them).
    rule_groups: Callable[[], list[dict[str, Any]]] = list
    alerts: Callable[[], list[dict[str, Any]]] = list
    metrics: MonitorMetrics = field(default_factory=MonitorMetrics)
    now_ms: Callable[[], int] = lambda: int(time.time() * 1000)
    max_concurrent_queries: int = 4
    _limiter: anyio.CapacityLimiter | None = field(default=None, init=False, repr=False)

    def limiter(self) -> anyio.CapacityLimiter:
        # Created lazily: a CapacityLimiter belongs to the event loop that first uses it.
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.max_concurrent_queries)
        return self._limiter


def _json(body: Any, status: int = 200) -> Response:
    return Response(dumps(body), status_code=status, media_type="application/json")


def _error(kind: str, message: str) -> Response:
    return _json(error_body(kind, message), _STATUS.get(kind, 500))


class _Params:
    """Query-string and url-encoded form parameters merged, as Go's ``r.Form`` does."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._pairs = pairs

    @classmethod
    async def read(cls, request: Request) -> _Params:
        pairs: list[tuple[str, str]] = []
        if request.method == "POST":
            ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if ctype == "application/x-www-form-urlencoded":
                body = (await request.body()).decode("utf-8", "replace")
                pairs.extend(parse_qsl(body, keep_blank_values=True))
        pairs.extend(request.query_params.multi_items())
        return cls(pairs)

    def get(self, name: str) -> str:
        for key, value in self._pairs:
            if key == name:
                return value
        return ""

    def get_all(self, name: str) -> list[str]:
        return [value for key, value in self._pairs if key == name]


def _time(params: _Params, name: str, default: int) -> int:
    """An optional time parameter, with Prometheus' parseTimeParam wording on errors."""
    text = params.get(name)
    if text == "":
        return default
    try:
        return parse_time_ms(text, name)
    except ParamError:
        raise ParamError(
            f"invalid parameter \"{name}\": Invalid time value for '{name}': "
            f'cannot parse "{text}" to a valid timestamp'
        ) from None


def _query_text(params: _Params) -> str:
    expr = params.get("query")
    if len(expr) > MAX_QUERY_CHARS:
        raise ParamError(f'invalid parameter "query": longer than {MAX_QUERY_CHARS} characters')
    timeout = params.get("timeout")
    if timeout:
        parse_duration_ms(
            timeout, "timeout"
        )  # validated like Prometheus; the engine's bound applies
    return expr


def _matcher_sets(params: _Params, *, required: bool) -> list[list[Matcher]]:
    selectors = params.get_all("match[]")
    if required and not selectors:
        raise ParamError("no match[] parameter provided")
    return [parse_matchers(s) for s in selectors]


Handler = Callable[[Request, ApiDeps], Awaitable[Response]]


def _endpoint(handler: Handler, deps: ApiDeps) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request, deps)
        except ParamError as exc:
            return _error("bad_data", str(exc))

    return endpoint


async def _run_query(deps: ApiDeps, endpoint: str, run: Callable[[], Value]) -> Response:
    started = time.perf_counter()
    try:
        value = await anyio.to_thread.run_sync(run, limiter=deps.limiter())
    except QueryError as exc:
        deps.metrics.query_errors.labels(endpoint, exc.kind).inc()
        return _error(exc.kind, str(exc))
    except Exception as exc:  # an evaluator bug: answer in the API's shape, keep serving
        log.exception("watchkeeper: query failed unexpectedly")
        deps.metrics.query_errors.labels(endpoint, "internal").inc()
        return _error(
            "internal",
            f"{type(exc).__name__}: {exc} (a bug in watchkeeper: please report it with the query)",
        )
    finally:
        deps.metrics.query_duration.labels(endpoint).observe(time.perf_counter() - started)
    return Response(encode_success(value), media_type="application/json")


async def _query(request: Request, deps: ApiDeps) -> Response:
    params = await _Params.read(request)
    expr = _query_text(params)
    at = _time(params, "time", deps.now_ms())
    return await _run_query(deps, "query", lambda: deps.engine.instant_query(expr, at))


async def _query_range(request: Request, deps: ApiDeps) -> Response:
    params = await _Params.read(request)
    expr = _query_text(params)
    start = parse_time_ms(params.get("start"), "start")
    end = parse_time_ms(params.get("end"), "end")
    if end < start:
        raise ParamError('invalid parameter "end": end timestamp must not be before start time')
    step = parse_duration_ms(params.get("step"), "step")
    if step <= 0:
        raise ParamError(
            'invalid parameter "step": zero or negative query resolution step widths are not '
            "accepted. Try a positive integer"
        )
    if (end - start) / step > MAX_POINTS_PER_SERIES:
        raise ParamError(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the "
            "query resolution (?step=XX)"
        )
    return await _run_query(
        deps, "query_range", lambda: deps.engine.range_query(expr, start, end, step)
    )


async def _series(request: Request, deps: ApiDeps) -> Response:
    params = await _Params.read(request)
    sets = _matcher_sets(params, required=True)
    start = _time(params, "start", MIN_TIME_MS)
    end = _time(params, "end", MAX_TIME_MS)
    # A store may list series without reading samples (``series(matchers, mint, maxt)``
    # yielding label sets); otherwise ``select`` tells which series have samples.
    lister: Callable[[Sequence[Matcher], int, int], Iterable[Labels]] | None
    lister = getattr(deps.storage, "series", None)
    seen: set[Labels] = set()
    for matchers in sets:
        if lister is not None:
            seen.update(lister(matchers, start, end))
        else:
            seen.update(s.labels for s in deps.storage.select(matchers, start, end))
    return _json(success_body([dict(labels) for labels in sorted(seen)]))


async def _labels(request: Request, deps: ApiDeps) -> Response:
    params = await _Params.read(request)
    _time(params, "start", MIN_TIME_MS)  # validated; the store answers over all time
    _time(params, "end", MAX_TIME_MS)
    sets = _matcher_sets(params, required=False) or [[]]
    names: set[str] = set()
    for matchers in sets:
        names.update(deps.storage.label_names(matchers))
    return _json(success_body(sorted(names)))


async def _label_values(request: Request, deps: ApiDeps) -> Response:
    name = request.path_params["name"]
    if not _LABEL_NAME_RE.match(name):
        raise ParamError(f'invalid label name: "{name}"')
    params = await _Params.read(request)
    _time(params, "start", MIN_TIME_MS)
    _time(params, "end", MAX_TIME_MS)
    sets = _matcher_sets(params, required=False) or [[]]
    values: set[str] = set()
    for matchers in sets:
        values.update(deps.storage.label_values(name, matchers))
    return _json(success_body(sorted(values)))


async def _targets(request: Request, deps: ApiDeps) -> Response:
    state = request.query_params.get("state", "").lower()
    if state not in ("", "any", "active", "dropped"):
        raise ParamError(f'invalid parameter "state": {state!r} is not one of active, dropped, any')
    return _json(success_body(render_targets(list(deps.targets()), state)))


async def _buildinfo(request: Request, deps: ApiDeps) -> Response:
    # Grafana reads "version" to pick its Prometheus feature set: 2.42 semantics
    # and endpoints are what this API offers, so we also say so in "prometheusVersion".
    return _json(
        success_body(
            {
                "version": __version__,
                "revision": "",
                "branch": "",
                "buildUser": "watchkeeper",
                "buildDate": "",
                "goVersion": "",
                "application": "watchkeeper",
                "prometheusVersion": "2.42.0",
            }
        )
    )


async def _rules(request: Request, deps: ApiDeps) -> Response:
    kind = request.query_params.get("type", "")
    if kind not in ("", "alert", "record"):
        raise ParamError(f'invalid parameter "type": {kind!r} is not one of alert, record')
    groups = deps.rule_groups()
    if kind:
        groups = [
            {**g, "rules": [r for r in g.get("rules", []) if r.get("type") == f"{kind}ing"]}
            for g in groups
        ]
    return _json(success_body({"groups": groups}))


async def _alerts(request: Request, deps: ApiDeps) -> Response:
    return _json(success_body({"alerts": deps.alerts()}))


async def _empty_object(request: Request, deps: ApiDeps) -> Response:
    return _json(success_body({}))


async def _empty_list(request: Request, deps: ApiDeps) -> Response:
    return _json(success_body([]))


async def _healthy(request: Request, deps: ApiDeps) -> Response:
    return PlainTextResponse("watchkeeper is Healthy.\n")


async def _ready(request: Request, deps: ApiDeps) -> Response:
    if deps.ready():
        return PlainTextResponse("watchkeeper is Ready.\n")
    return PlainTextResponse("Service Unavailable", status_code=503)


async def _metrics(request: Request, deps: ApiDeps) -> Response:
    return Response(generate_latest(deps.metrics.registry), media_type=CONTENT_TYPE_LATEST)


_ROUTES: Mapping[str, tuple[Handler, tuple[str, ...]]] = {
    "/api/v1/query": (_query, ("GET", "POST")),
    "/api/v1/query_range": (_query_range, ("GET", "POST")),
    "/api/v1/series": (_series, ("GET", "POST")),
    "/api/v1/labels": (_labels, ("GET", "POST")),
    "/api/v1/label/{name}/values": (_label_values, ("GET",)),
    "/api/v1/targets": (_targets, ("GET",)),
    "/api/v1/status/buildinfo": (_buildinfo, ("GET",)),
    "/api/v1/rules": (_rules, ("GET",)),
    "/api/v1/alerts": (_alerts, ("GET",)),
    # Grafana asks for these; we have no metadata or exemplars (yet) to offer.
    "/api/v1/metadata": (_empty_object, ("GET",)),
    "/api/v1/query_exemplars": (_empty_list, ("GET", "POST")),
    "/-/healthy": (_healthy, ("GET", "HEAD")),
    "/-/ready": (_ready, ("GET", "HEAD")),
    "/metrics": (_metrics, ("GET",)),
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
