"""``/api/v1/query`` and ``/api/v1/query_range``.

Queries run in worker threads, at most ``max_concurrent_queries`` at a time (like
Prometheus' ``--query.max-concurrency``): the event loop stays free for scrapes,
probes and other requests while a slow query runs (numpy releases the GIL for the
heavy parts). The storage is thread-safe; the engine's own timeout bounds a query.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response

from watchkeeper.errors import QueryError
from watchkeeper.monitor.promql.value import Value
from watchkeeper.monitor.web.deps import ApiDeps
from watchkeeper.monitor.web.json import encode_success
from watchkeeper.monitor.web.params import ParamError, parse_duration_ms, parse_time_ms
from watchkeeper.monitor.web.request import RequestParams, error_response

__all__ = ["MAX_POINTS_PER_SERIES", "MAX_QUERY_CHARS", "query", "query_range"]

log = logging.getLogger("watchkeeper.monitor.web")

MAX_POINTS_PER_SERIES = 11_000  # Prometheus' limit on (end - start) / step
MAX_QUERY_CHARS = 64 << 10


def _query_text(params: RequestParams) -> str:
    expr = params.get("query")
    if len(expr) > MAX_QUERY_CHARS:
        raise ParamError(f'invalid parameter "query": longer than {MAX_QUERY_CHARS} characters')
    timeout = params.get("timeout")
    if timeout:  # validated like Prometheus; the engine's own bound applies
        parse_duration_ms(timeout, "timeout")
    return expr


async def _run(deps: ApiDeps, endpoint: str, run: Callable[[], Value]) -> Response:
    started = time.perf_counter()
    try:
        # Encoding a large matrix takes time too: it runs in the worker thread as well.
        body = await anyio.to_thread.run_sync(lambda: encode_success(run()), limiter=deps.limiter())
    except QueryError as exc:
        deps.metrics.query_errors.labels(endpoint, exc.kind).inc()
        return error_response(exc.kind, str(exc))
    except Exception as exc:  # an evaluator bug: answer in the API's shape, keep serving
        log.exception("watchkeeper: query failed unexpectedly")
        deps.metrics.query_errors.labels(endpoint, "internal").inc()
        return error_response(
            "internal",
            f"{type(exc).__name__}: {exc} (a bug in watchkeeper: please report it with the query)",
        )
    finally:
        deps.metrics.query_duration.labels(endpoint).observe(time.perf_counter() - started)
    return Response(body, media_type="application/json")


async def query(request: Request, deps: ApiDeps) -> Response:
    params = await RequestParams.read(request)
    expr = _query_text(params)
    at = params.optional_time("time", deps.now_ms())
    return await _run(deps, "query", lambda: deps.engine.instant_query(expr, at))


async def query_range(request: Request, deps: ApiDeps) -> Response:
    params = await RequestParams.read(request)
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
    return await _run(deps, "query_range", lambda: deps.engine.range_query(expr, start, end, step))
