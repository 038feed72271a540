"""Per-request overhead of HTTP instrumentation, side by side in one run.

The apps are called directly (ASGI: ``await app(scope, receive, send)`` on one event
loop; WSGI: ``app(environ, start_response)`` and the body consumed and closed), so
the numbers are the framework plus its middleware, with no client, socket or
server in between: the instrumentation's cost is not hidden behind network noise.
Time is the driver thread's CPU time (``time.thread_time``), not wall time: on a
shared machine the wall clock also counts the moments other processes held the
CPU, which swamps a few-microsecond difference; CPU time counts only our work
(garbage collection included, since it runs in this thread).

Method: every variant first answers one checked request (status and body), then
warms up; then ``--rounds`` rounds each time ``--requests`` requests per variant,
the variants in a rotated order each round so none always runs first or last.
We report the median of the rounds, and the overhead as the median of the
*paired* per-round differences against the bare app of the same round, which
cancels most of the drift of a shared machine (the verdicts use it). Contention
only ever adds time, so "(best rounds)", the fastest round of the variant minus
the fastest bare round, estimates what a quiet machine would show. After the run
every variant's own counters are read back ("recorded") to prove the instrumented
path really ran.

Sections: FastAPI (the targets), Starlette, Flask (WSGI target), and the
middlewares over a raw ASGI/WSGI callable with no framework, which isolates the
SDK's own per-request cost from the framework's.

Run: ``.venv/bin/python -m benchmarks.bench_http [--rounds 15] [--requests 1000]
[--only asgi|wsgi]``; ``--drive flask:watchkeeper`` runs one WSGI variant untimed for
callgrind instruction counts (see ``drive``).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import json
import os
import sys
import wsgiref.util
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from dataclasses import dataclass, field
from time import perf_counter, thread_time
from typing import Any

from benchmarks._common import machine, median, revision, table, verdict

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

SDK_SRC = "src/watchkeeper/instrument"
ITEM_PATH = "/items/42"
ROUTE = "/items/{item_id}"
FLASK_ROUTE = "/items/<int:item_id>"
EXPECTED_BODY = {"item_id": 42, "name": "widget", "price": 9.5}

# Targets from issue 2 (overheads over the bare app, same run).
ASGI_MAX_OVERHEAD_US = 5.0
ASGI_MAX_FRACTION_OF_INSTRUMENTATOR = 1 / 6
WSGI_MAX_FRACTION_OF_FLASK_EXPORTER = 1 / 3


@dataclass
class Variant:
    name: str
    app: Any
    # Reads back how many requests the variant's own instrumentation recorded.
    recorded: Callable[[], float] | None = None
    times_us: list[float] = field(default_factory=list)
    sent: int = 0


# -- the apps under test -------------------------------------------------------------
def fastapi_app() -> Any:
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/items/{item_id}")
    async def read_item(item_id: int) -> dict[str, Any]:
        return {"item_id": item_id, "name": "widget", "price": 9.5}

    return app


def starlette_app() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def read_item(request: Request) -> JSONResponse:
        item_id = int(request.path_params["item_id"])
        return JSONResponse({"item_id": item_id, "name": "widget", "price": 9.5})

    return Starlette(routes=[Route("/items/{item_id:int}", read_item)])


def flask_app() -> Any:
    from flask import Flask, jsonify

    app = Flask("bench_flask")

    @app.get("/items/<int:item_id>")
    def read_item(item_id: int) -> Any:
        return jsonify(item_id=item_id, name="widget", price=9.5)

    return app


_BODY = json.dumps(EXPECTED_BODY, separators=(",", ":")).encode()
_START: Message = {
    "type": "http.response.start",
    "status": 200,
    "headers": [
        (b"content-length", str(len(_BODY)).encode()),
        (b"content-type", b"application/json"),
    ],
}
_BODY_MESSAGE: Message = {"type": "http.response.body", "body": _BODY}


async def raw_asgi_app(scope: Scope, receive: Receive, send: Send) -> None:
    """No framework at all: what is left over it is the middleware's own cost."""
    if scope["type"] == "lifespan":
        message = await receive()
        await send({"type": "lifespan.startup.complete"})
        message = await receive()
        if message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
        return
    await receive()
    scope["watchkeeper.route"] = ROUTE  # what a framework adapter would leave for us
    await send(_START)
    await send(_BODY_MESSAGE)


def raw_wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    environ["watchkeeper.route"] = ROUTE
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(_BODY)))]
    start_response("200 OK", headers)
    return [_BODY]


# -- reference middlewares: what "hand-written, minimal" costs -----------------------
class MinimalASGITimer:
    """The issue's +5 µs reference: time each request and count it, nothing more."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.totals: dict[tuple[str, int], list[float]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            slot = self.totals.setdefault((scope["method"], status), [0.0, 0.0])
            slot[0] += 1
            slot[1] += perf_counter() - start

    def count(self) -> float:
        return sum(v[0] for v in self.totals.values())


class MinimalWSGITimer:
    """The WSGI twin of ``MinimalASGITimer`` (timing stops when the app returns)."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self.totals: dict[tuple[str, str], list[float]] = {}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        start = perf_counter()
        status = "500"

        def wrapped(s: str, headers: Any, exc_info: Any = None) -> Any:
            nonlocal status
            status = s[:3]
            return start_response(s, headers, exc_info)

        try:
            return self.app(environ, wrapped)
        finally:
            slot = self.totals.setdefault((environ["REQUEST_METHOD"], status), [0.0, 0.0])
            slot[0] += 1
            slot[1] += perf_counter() - start

    def count(self) -> float:
        return sum(v[0] for v in self.totals.values())


# -- read-backs -----------------------------------------------------------------------
def _wk_recorded(registry: Any, route: str = ROUTE) -> Callable[[], float]:
    # Through the exposition, as a scraper would see it: no reliance on internals.
    def read() -> float:
        from prometheus_client.parser import text_string_to_metric_families

        from watchkeeper.instrument.exposition import render

        return sum(
            s.value
            for fam in text_string_to_metric_families(render(registry))
            for s in fam.samples
            if s.name == "http_server_request_duration_seconds_count"
            and s.labels.get("http_route") == route
        )

    return read


def _pc_recorded(registry: Any, sample_name: str) -> Callable[[], float]:
    def read() -> float:
        return float(
            sum(
                s.value
                for metric in registry.collect()
                for s in metric.samples
                if s.name == sample_name
            )
        )

    return read


# -- ASGI variants ---------------------------------------------------------------------
def asgi_variants() -> list[Variant]:
    import watchkeeper
    from watchkeeper.instrument.registry import Registry

    out = [Variant("bare", fastapi_app())]

    ref = MinimalASGITimer(fastapi_app())
    out.append(Variant("hand-written pure ASGI timer", ref, ref.count))

    reg = Registry()
    app = watchkeeper.instrument(fastapi_app(), service="bench", registry=reg)
    out.append(Variant("watchkeeper", app, _wk_recorded(reg)))

    # Diagnostic: the default loop_lag=True costs a get_running_loop() per request.
    reg = Registry()
    app = watchkeeper.instrument(fastapi_app(), service="bench", registry=reg, loop_lag=False)
    out.append(Variant("watchkeeper (loop_lag=False)", app, _wk_recorded(reg)))

    out.append(_instrumentator())
    out.append(_starlette_exporter())
    out.append(_opentelemetry())
    return out


def _instrumentator() -> Variant:
    from prometheus_client import CollectorRegistry
    from prometheus_fastapi_instrumentator import Instrumentator

    app = fastapi_app()
    pc_reg = CollectorRegistry()
    Instrumentator(registry=pc_reg).instrument(app).expose(app)
    recorded = _pc_recorded(pc_reg, "http_requests_total")
    return Variant("prometheus-fastapi-instrumentator", app, recorded)


def _starlette_exporter() -> Variant:
    from prometheus_client import REGISTRY
    from starlette_exporter import PrometheusMiddleware, handle_metrics

    app = fastapi_app()
    app.add_middleware(PrometheusMiddleware)
    app.add_route("/metrics", handle_metrics)
    return Variant("starlette_exporter", app, _pc_recorded(REGISTRY, "starlette_requests_total"))


class _CountingSpanExporter:
    """Counts server spans and drops them: the export pipeline without any I/O."""

    def __init__(self) -> None:
        self.server_spans = 0

    def export(self, spans: Sequence[Any]) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult
        from opentelemetry.trace import SpanKind

        self.server_spans += sum(1 for s in spans if s.kind is SpanKind.SERVER)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _opentelemetry() -> Variant:
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    exporter = _CountingSpanExporter()
    tracer_provider = TracerProvider()
    # A simple (synchronous) processor keeps the whole span cost inside the request,
    # where a batch processor would move part of it to a thread of the same process.
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))  # type: ignore[arg-type]
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    app = fastapi_app()
    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=tracer_provider, meter_provider=meter_provider
    )
    return Variant(
        "OpenTelemetry FastAPIInstrumentor (SDK traces + metrics)",
        app,
        lambda: float(exporter.server_spans),
    )


def raw_asgi_variants() -> list[Variant]:
    import watchkeeper
    from watchkeeper.instrument.registry import Registry

    out = [Variant("bare", raw_asgi_app)]
    ref = MinimalASGITimer(raw_asgi_app)
    out.append(Variant("hand-written pure ASGI timer", ref, ref.count))
    reg = Registry()
    app = watchkeeper.instrument(raw_asgi_app, service="bench", registry=reg)
    out.append(Variant("watchkeeper", app, _wk_recorded(reg)))
    return out


def raw_wsgi_variants() -> list[Variant]:
    import watchkeeper
    from watchkeeper.instrument.registry import Registry

    out = [Variant("bare", raw_wsgi_app)]
    ref = MinimalWSGITimer(raw_wsgi_app)
    out.append(Variant("hand-written WSGI timer", ref, ref.count))
    reg = Registry()
    app = watchkeeper.instrument(raw_wsgi_app, service="bench", registry=reg)
    out.append(Variant("watchkeeper", app, _wk_recorded(reg)))
    return out


def starlette_variants() -> list[Variant]:
    import watchkeeper
    from watchkeeper.instrument.registry import Registry

    out = [Variant("bare", starlette_app())]
    ref = MinimalASGITimer(starlette_app())
    out.append(Variant("hand-written pure ASGI timer", ref, ref.count))
    reg = Registry()
    app = watchkeeper.instrument(starlette_app(), service="bench", registry=reg)
    out.append(Variant("watchkeeper", app, _wk_recorded(reg)))
    return out


# -- the ASGI driver -------------------------------------------------------------------
_REQUEST: Message = {"type": "http.request", "body": b"", "more_body": False}


async def _receive() -> Message:
    return _REQUEST


async def _discard(message: Message) -> None:
    pass


def _scope_template() -> Scope:
    # What uvicorn puts in an HTTP scope for `GET /items/42`.
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 51000),
        "scheme": "http",
        "method": "GET",
        "root_path": "",
        "path": ITEM_PATH,
        "raw_path": ITEM_PATH.encode(),
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"user-agent", b"bench/1.0"),
            (b"accept", b"*/*"),
        ],
    }


class _Lifespan:
    """Runs an app's lifespan protocol: startup before the requests, shutdown after."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.state: dict[str, Any] = {}
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._started: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None

    async def _send(self, message: Message) -> None:
        assert self._started is not None
        kind = message["type"]
        if kind == "lifespan.startup.complete" and not self._started.done():
            self._started.set_result(None)
        elif kind == "lifespan.startup.failed" and not self._started.done():
            self._started.set_exception(RuntimeError(message.get("message", "startup failed")))

    async def startup(self) -> None:
        self._started = asyncio.get_running_loop().create_future()
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": self.state}
        self._task = asyncio.ensure_future(self.app(scope, self._inbox.get, self._send))
        await self._inbox.put({"type": "lifespan.startup"})
        await asyncio.wait({self._started, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if self._started.done():
            self._started.result()  # raise if the app's startup failed

    async def shutdown(self) -> None:
        if self._task is not None and not self._task.done():
            await self._inbox.put({"type": "lifespan.shutdown"})
            await asyncio.wait_for(self._task, timeout=10)


async def _check_asgi(v: Variant, state: dict[str, Any]) -> None:
    """One request with the messages kept: the benchmark must time a real 200."""
    messages: list[Message] = []
    receives = 0

    async def receive() -> Message:
        nonlocal receives
        receives += 1
        return _REQUEST

    async def send(message: Message) -> None:
        messages.append(message)

    scope = _scope_template()
    scope["state"] = dict(state)
    await v.app(scope, receive, send)
    v.sent += 1
    status = next(m["status"] for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    if status != 200 or json.loads(body) != EXPECTED_BODY:
        raise RuntimeError(f"{v.name}: unexpected response {status} {body!r}")
    if receives > 1:
        # Our receive never reports a disconnect; an app that polls it would spin.
        raise RuntimeError(f"{v.name}: called receive() {receives} times for one request")


async def _time_asgi(v: Variant, state: dict[str, Any], n: int) -> float:
    app = v.app
    base = _scope_template()
    gc.collect()  # start each batch from the same heap, not the previous variant's garbage
    t0 = thread_time()
    for _ in range(n):
        scope = dict(base)
        scope["state"] = state.copy()
        await app(scope, _receive, _discard)
    elapsed = thread_time() - t0
    v.sent += n
    return elapsed / n * 1e6


async def _run_asgi(variants: list[Variant], rounds: int, n: int) -> None:
    lifespans = [_Lifespan(v.app) for v in variants]
    for ls in lifespans:
        await ls.startup()
    try:
        for v, ls in zip(variants, lifespans, strict=True):
            await _check_asgi(v, ls.state)
            await _time_asgi(v, ls.state, max(200, n // 4))  # warm-up: caches, children
        for r in range(rounds):
            for i in range(len(variants)):
                k = (i + r) % len(variants)
                v = variants[k]
                v.times_us.append(await _time_asgi(v, lifespans[k].state, n))
    finally:
        for ls in lifespans:
            await ls.shutdown()


# -- the WSGI driver -------------------------------------------------------------------
def _environ_template() -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": ITEM_PATH,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_USER_AGENT": "bench/1.0",
        "HTTP_ACCEPT": "*/*",
    }
    wsgiref.util.setup_testing_defaults(environ)
    return environ


def _call_wsgi(app: WSGIApp, environ: dict[str, Any], start_response: Callable[..., Any]) -> bytes:
    result = app(environ, start_response)
    try:
        return b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()


def _check_wsgi(v: Variant) -> None:
    seen: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        seen.append(status)
        return None

    environ = _environ_template()
    environ["wsgi.input"] = io.BytesIO(b"")
    body = _call_wsgi(v.app, environ, start_response)
    v.sent += 1
    if not seen or not seen[0].startswith("200") or json.loads(body) != EXPECTED_BODY:
        raise RuntimeError(f"{v.name}: unexpected response {seen} {body!r}")


def _start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
    return None


def _time_wsgi(v: Variant, n: int) -> float:
    app = v.app
    base = _environ_template()
    gc.collect()
    t0 = thread_time()
    for _ in range(n):
        environ = base.copy()
        environ["wsgi.input"] = io.BytesIO(b"")
        result = app(environ, _start_response)
        for _chunk in result:
            pass
        close = getattr(result, "close", None)
        if close is not None:
            close()
    elapsed = thread_time() - t0
    v.sent += n
    return elapsed / n * 1e6


def wsgi_variants() -> list[Variant]:
    from prometheus_client import REGISTRY
    from prometheus_flask_exporter import PrometheusMetrics

    import watchkeeper
    from watchkeeper.instrument.registry import Registry

    out = [Variant("bare", flask_app())]
    app = flask_app()
    ref = MinimalWSGITimer(app.wsgi_app)
    app.wsgi_app = ref
    out.append(Variant("hand-written WSGI timer", app, ref.count))
    reg = Registry()
    app = watchkeeper.instrument(flask_app(), service="bench", registry=reg)
    out.append(Variant("watchkeeper", app, _wk_recorded(reg, FLASK_ROUTE)))
    app = flask_app()
    PrometheusMetrics(app)
    recorded = _pc_recorded(REGISTRY, "flask_http_request_total")
    out.append(Variant("prometheus-flask-exporter", app, recorded))
    return out


def _run_wsgi(variants: list[Variant], rounds: int, n: int) -> None:
    for v in variants:
        _check_wsgi(v)
        _time_wsgi(v, max(200, n // 4))
    for r in range(rounds):
        for i in range(len(variants)):
            v = variants[(i + r) % len(variants)]
            v.times_us.append(_time_wsgi(v, n))


# -- report ----------------------------------------------------------------------------
def overheads(variants: list[Variant]) -> dict[str, float]:
    """Median over rounds of (variant - bare) in the same round, µs per request."""
    bare = variants[0].times_us
    return {
        v.name: median([t - b for t, b in zip(v.times_us, bare, strict=True)]) for v in variants
    }


def report(title: str, variants: list[Variant], peer: str | None) -> dict[str, float]:
    over = overheads(variants)
    bare_us = median(variants[0].times_us)
    bare_best = min(variants[0].times_us)
    peer_over = over.get(peer) if peer else None
    rows = []
    for v in variants:
        t = median(v.times_us)
        spread = f"{min(v.times_us):.1f}..{max(v.times_us):.1f}"
        o = over[v.name]
        recorded = "-" if v.recorded is None else f"{v.recorded():.0f}/{v.sent}"
        if v is variants[0]:
            rows.append([v.name, f"{t:.1f}", spread, "", "", "1.00x", "", recorded])
            continue
        vs_peer = f"{o / peer_over:.2f}" if peer_over and peer_over > 0 else ""
        ratio = f"{t / bare_us:.2f}x"
        best = f"{min(v.times_us) - bare_best:+.1f}"
        rows.append([v.name, f"{t:.1f}", spread, f"{o:+.1f}", best, ratio, vs_peer, recorded])
    print(title)
    print(
        table(
            [
                "variant",
                "µs/req",
                "rounds min..max",
                "overhead µs",
                "(best rounds)",
                "vs bare",
                f"overhead / {peer}" if peer else "",
                "recorded/sent",
            ],
            rows,
        )
    )
    print()
    return over


def drive(target: str, n: int) -> None:
    """``--drive SECTION:VARIANT``: one checked request, a warm-up, then ``n`` untimed
    requests through one WSGI variant, for instruction counting: run it under
    ``valgrind --tool=callgrind`` with N and 3N requests; the difference / 2N is the
    instructions per request, whatever the load of the machine."""
    section, _, name = target.partition(":")
    sections = {"flask": wsgi_variants, "raw-wsgi": raw_wsgi_variants}
    if section not in sections:
        raise SystemExit(f"--drive: unknown section {section!r}; pick one of {sorted(sections)}")
    found = [v for v in sections[section]() if v.name == name]
    if not found:
        names = [v.name for v in sections[section]()]
        raise SystemExit(f"--drive: no variant {name!r} in {section}; pick one of {names}")
    v = found[0]
    _check_wsgi(v)
    _time_wsgi(v, 200)
    _time_wsgi(v, n)
    print(f"{v.name}: {v.sent} requests, recorded {v.recorded() if v.recorded else '-'}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (default 15)")
    parser.add_argument("--requests", type=int, default=1000, help="per variant and round")
    parser.add_argument(
        "--only",
        choices=("all", "asgi", "wsgi"),
        default="all",
        help="run only the ASGI (FastAPI, Starlette, raw ASGI) or WSGI (Flask, raw WSGI) "
        "sections (default: all)",
    )
    parser.add_argument(
        "--drive",
        metavar="SECTION:VARIANT",
        help="no timing: run --requests requests through one WSGI variant (e.g. "
        "'flask:watchkeeper', 'raw-wsgi:bare') for callgrind instruction counts",
    )
    args = parser.parse_args(argv)
    rounds, n = args.rounds, args.requests
    if args.drive:
        drive(args.drive, n)
        return
    asgi, wsgi = args.only in ("all", "asgi"), args.only in ("all", "wsgi")
    print(f"bench_http: {rounds} interleaved rounds x {n} requests per variant, GET {ITEM_PATH}")
    print(machine())
    print(revision(SDK_SRC))
    print(f"load average at start: {_load()}")
    print()

    targets: list[str] = []
    if asgi:
        fa = asgi_variants()
        asyncio.run(_run_asgi(fa, rounds, n))
        instr = "prometheus-fastapi-instrumentator"
        over = report("FastAPI (ASGI, in-process driver): median µs per request", fa, instr)
        wk, ins = over["watchkeeper"], over[instr]
        ok = wk <= ASGI_MAX_OVERHEAD_US
        targets.append(f"  FastAPI watchkeeper overhead {wk:.1f} µs <= 5 µs: {verdict(ok)}")
        ok = wk <= ASGI_MAX_FRACTION_OF_INSTRUMENTATOR * ins
        targets.append(
            f"  FastAPI overhead watchkeeper/instrumentator {wk:.1f}/{ins:.1f} = {wk / ins:.3f}"
            f" <= 1/6 = {ASGI_MAX_FRACTION_OF_INSTRUMENTATOR:.3f}: {verdict(ok)}"
        )

        st = starlette_variants()
        asyncio.run(_run_asgi(st, rounds, n))
        report("Starlette (ASGI, in-process driver): median µs per request", st, None)

    if wsgi:
        fl = wsgi_variants()
        _run_wsgi(fl, rounds, n)
        pfe = "prometheus-flask-exporter"
        wover = report("Flask (WSGI, in-process driver): median µs per request", fl, pfe)
        wk_f, pf = wover["watchkeeper"], wover[pfe]
        ok = wk_f <= WSGI_MAX_FRACTION_OF_FLASK_EXPORTER * pf
        targets.append(
            f"  Flask overhead watchkeeper/prometheus-flask-exporter {wk_f:.1f}/{pf:.1f} ="
            f" {wk_f / pf:.3f} <= 1/3 = {WSGI_MAX_FRACTION_OF_FLASK_EXPORTER:.3f}: {verdict(ok)}"
        )

    # The middleware alone: no framework under it, so the difference is the SDK's
    # own per-request cost (what to optimise), free of framework noise.
    if asgi:
        ra = raw_asgi_variants()
        asyncio.run(_run_asgi(ra, rounds, n))
        title = "Raw ASGI callable, no framework (middleware cost alone): median µs/request"
        report(title, ra, None)
    if wsgi:
        rw = raw_wsgi_variants()
        _run_wsgi(rw, rounds, n)
        title = "Raw WSGI callable, no framework (middleware cost alone): median µs/request"
        report(title, rw, None)
    print("targets:")
    for line in targets:
        print(line)
    print(f"load average at end: {_load()} (a loaded machine inflates every row alike)")
    sys.stdout.flush()


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
