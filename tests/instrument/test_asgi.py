"""The ASGI middleware on Starlette and FastAPI, in process."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from fastapi import APIRouter, BackgroundTasks, FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket

import watchkeeper
from tests.instrument.conftest import value, values
from watchkeeper.instrument import asgi as asgi_module
from watchkeeper.instrument._semconv import UNMATCHED_ROUTE
from watchkeeper.instrument.registry import Registry

DURATION = "http_server_request_duration_seconds"


class FakeClock:
    """perf_counter replacement the endpoints advance, so durations are exact."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(asgi_module, "perf_counter", fake)
    return fake


def build_fastapi() -> FastAPI:
    app = FastAPI()
    router = APIRouter(prefix="/api")

    @router.get("/items/{item_id}")
    def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("boom")

    app.include_router(router)
    sub = FastAPI()

    @sub.get("/users/{uid}")
    def user(uid: str) -> dict[str, str]:
        return {"uid": uid}

    app.mount("/v1", sub)
    return app


def test_route_templates_through_routers_and_sub_apps(registry: Registry) -> None:
    app = watchkeeper.instrument(build_fastapi(), service="t", registry=registry)
    client = TestClient(app, raise_server_exceptions=False)
    assert client.get("/api/items/1").status_code == 200
    assert client.get("/api/items/2").status_code == 200
    assert client.get("/v1/users/alice").status_code == 200
    assert value(registry, DURATION + "_count", http_route="/api/items/{item_id}") == 2
    assert value(registry, DURATION + "_count", http_route="/v1/users/{uid}") == 1
    routes = {lab for (_, labels) in _keys(registry) for lab in labels if lab[0] == "http_route"}
    assert not any("alice" in v or "/1" in v for _, v in routes), routes


def _keys(registry: Registry) -> list[tuple[str, frozenset[tuple[str, str]]]]:
    from tests.instrument.conftest import parse
    from watchkeeper.instrument.exposition import render

    return list(parse(render(registry)))


def test_starlette_nested_mounts_and_same_router_mounted_twice(registry: Registry) -> None:
    async def show(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    inner = [Route("/orders/{oid:int}", show)]
    app = Starlette(
        routes=[
            Mount("/tenants/{tenant}", routes=[Mount("/shop", routes=inner)]),
            Mount("/a", routes=inner),
            Mount("/b", routes=inner),
        ]
    )
    app = watchkeeper.instrument(app, service="t", registry=registry)
    client = TestClient(app)
    assert client.get("/tenants/acme/shop/orders/7").text == "ok"
    assert client.get("/a/orders/1").text == "ok"
    assert client.get("/b/orders/2").text == "ok"
    assert client.get("/b/orders/3").text == "ok"
    count = DURATION + "_count"
    assert value(registry, count, http_route="/tenants/{tenant}/shop/orders/{oid}") == 1
    assert value(registry, count, http_route="/a/orders/{oid}") == 1
    assert value(registry, count, http_route="/b/orders/{oid}") == 2


def test_unmatched_paths_share_one_route_and_unknown_methods_fold(registry: Registry) -> None:
    app = watchkeeper.instrument(build_fastapi(), service="t", registry=registry)
    client = TestClient(app)
    for i in range(50):
        assert client.get(f"/wp-admin/{i}.php").status_code == 404
    client.request("PURGE", "/api/items/1")
    assert value(registry, DURATION + "_count", http_route="_unmatched") == 50
    assert values(registry, DURATION + "_count", http_request_method="_OTHER") == [1]


def test_exception_before_response_is_a_500_with_error_type(registry: Registry) -> None:
    app = watchkeeper.instrument(build_fastapi(), service="t", registry=registry)
    client = TestClient(app, raise_server_exceptions=False)
    assert client.get("/boom").status_code == 500
    got = value(
        registry,
        DURATION + "_count",
        http_route="/boom",
        http_response_status_code="500",
        error_type="RuntimeError",
    )
    assert got == 1
    assert value(registry, "http_server_active_requests", http_request_method="GET") == 0


def test_routes_added_after_instrument_are_templated(registry: Registry) -> None:
    app = FastAPI()
    app = watchkeeper.instrument(app, service="t", registry=registry)
    late = APIRouter(prefix="/late")

    @late.get("/{thing}")
    def thing(thing: str) -> str:
        return thing

    app.include_router(late)
    sub = Starlette(routes=[Route("/p/{x}", lambda r: PlainTextResponse("x"))])
    app.mount("/m", sub)
    client = TestClient(app)
    client.get("/late/abc")
    client.get("/m/p/1")
    assert value(registry, DURATION + "_count", http_route="/late/{thing}") == 1
    assert value(registry, DURATION + "_count", http_route="/m/p/{x}") == 1


def test_second_instrument_call_warns_and_changes_nothing(registry: Registry) -> None:
    app = watchkeeper.instrument(build_fastapi(), service="t", registry=registry)
    middleware_count = len(app.user_middleware)
    with pytest.warns(RuntimeWarning, match="already called"):
        again = watchkeeper.instrument(app, service="t", registry=registry)
    assert again is app
    assert len(app.user_middleware) == middleware_count
    TestClient(app).get("/api/items/1")
    assert value(registry, DURATION + "_count", http_route="/api/items/{item_id}") == 1


def test_background_tasks_are_not_in_the_duration(registry: Registry, clock: FakeClock) -> None:
    app = FastAPI()

    def slow_job() -> None:
        clock.now += 100.0  # the background work "takes" 100 s

    @app.post("/orders")
    def create(tasks: BackgroundTasks) -> dict[str, bool]:
        clock.now += 0.25  # the request itself takes 250 ms
        tasks.add_task(slow_job)
        return {"ok": True}

    app = watchkeeper.instrument(app, service="t", registry=registry)
    assert TestClient(app).post("/orders").status_code == 200
    assert value(registry, DURATION + "_sum", http_route="/orders") == pytest.approx(0.25)
    assert value(registry, DURATION + "_bucket", http_route="/orders", le="0.25") == 1
    assert value(registry, DURATION + "_bucket", http_route="/orders", le="0.1") == 0


def test_streaming_events_are_measured_apart(registry: Registry, clock: FakeClock) -> None:
    async def events() -> AsyncIterator[bytes]:
        for i in range(3):
            clock.now += 10.0
            yield f"data: {i}\n\n".encode()

    async def sse(request: Request) -> StreamingResponse:
        clock.now += 0.05
        return StreamingResponse(events(), media_type="text/event-stream")

    async def download(request: Request) -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(4):
                clock.now += 0.5
                yield b"x" * 1000

        return StreamingResponse(chunks(), media_type="application/octet-stream")

    app = Starlette(routes=[Route("/events", sse), Route("/download", download)])
    app = watchkeeper.instrument(app, service="t", registry=registry)
    client = TestClient(app)
    assert client.get("/events").text.count("data:") == 3
    assert client.get("/download").content == b"x" * 4000
    # The SSE request counts its time to the response head; the stream its 30 s.
    assert value(registry, DURATION + "_sum", http_route="/events") == pytest.approx(0.05)
    stream = "http_server_stream_duration_seconds_sum"
    assert value(registry, stream, http_route="/events") == pytest.approx(30.05)
    # A plain chunked download is a request, measured to its last chunk, bytes counted.
    assert value(registry, DURATION + "_sum", http_route="/download") == pytest.approx(2.0)
    size = "http_server_response_body_size_bytes_sum"
    assert value(registry, size, http_route="/download") == 4000


def test_request_and_response_body_sizes(registry: Registry) -> None:
    async def echo(request: Request) -> PlainTextResponse:
        body = await request.body()
        return PlainTextResponse(body.decode() * 2)

    app = Starlette(routes=[Route("/echo", echo, methods=["POST"])])
    app = watchkeeper.instrument(app, service="t", registry=registry)

    def chunked() -> Iterator[bytes]:
        yield b"a" * 300
        yield b"b" * 200

    assert len(TestClient(app).post("/echo", content=chunked()).content) == 1000
    assert value(registry, "http_server_request_body_size_bytes_sum", http_route="/echo") == 500
    assert value(registry, "http_server_response_body_size_bytes_sum", http_route="/echo") == 1000


async def _drive(app: Any, scope: dict[str, Any], incoming: list[dict[str, Any]]) -> list[Any]:
    """Call an ASGI app directly with scripted receive messages; returns what it sent."""
    sent: list[Any] = []
    queue = list(incoming)

    async def receive() -> dict[str, Any]:
        if queue:
            return queue.pop(0)
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    async def send(message: Any) -> None:
        sent.append(message)
        await asyncio.sleep(0)

    await app(scope, receive, send)
    return sent


def _scope(path: str, method: str = "GET") -> dict[str, Any]:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": [], "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
    }  # fmt: skip


def test_client_disconnect_during_stream_is_a_499(registry: Registry) -> None:
    async def forever() -> AsyncIterator[bytes]:
        while True:
            yield b"tick\n"
            await asyncio.sleep(0.001)

    async def ticks(request: Request) -> StreamingResponse:
        return StreamingResponse(forever(), media_type="application/octet-stream")

    app = watchkeeper.instrument(
        Starlette(routes=[Route("/ticks", ticks)]), service="t", registry=registry
    )
    incoming: list[dict[str, Any]] = [
        {"type": "http.request", "body": b"", "more_body": False},
        {"type": "http.disconnect"},
    ]
    asyncio.run(_drive(app, _scope("/ticks"), incoming))
    assert value(registry, DURATION + "_count", http_response_status_code="499") == 1


def test_client_disconnect_while_uploading_is_a_499(registry: Registry) -> None:
    async def upload(request: Request) -> PlainTextResponse:
        body = await request.body()
        return PlainTextResponse(str(len(body)))

    app = Starlette(routes=[Route("/upload", upload, methods=["POST"])])
    app = watchkeeper.instrument(app, service="t", registry=registry)
    incoming: list[dict[str, Any]] = [
        {"type": "http.request", "body": b"x" * 100, "more_body": True},
        {"type": "http.disconnect"},
    ]
    from starlette.requests import ClientDisconnect

    with pytest.raises(ClientDisconnect):  # the app's own exception is never swallowed
        asyncio.run(_drive(app, _scope("/upload", "POST"), incoming))
    got = values(
        registry,
        DURATION + "_count",
        http_response_status_code="499",
        error_type="ClientDisconnect",
    )
    assert got == [1]
    assert value(registry, "http_server_request_body_size_bytes_sum") == 100


def test_websocket_and_lifespan_pass_through(registry: Registry) -> None:
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hi")
        await websocket.close()

    started: list[bool] = []

    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        started.append(True)
        yield

    import contextlib

    app = Starlette(
        routes=[WebSocketRoute("/ws", ws)], lifespan=contextlib.asynccontextmanager(lifespan)
    )
    app = watchkeeper.instrument(app, service="t", registry=registry)
    with TestClient(app) as client, client.websocket_connect("/ws") as conn:
        assert conn.receive_text() == "hi"
    assert started == [True]
    assert values(registry, DURATION + "_count") == []


def test_a_scan_of_100k_random_paths_stays_bounded(registry: Registry) -> None:
    import random

    async def item(request: Request) -> PlainTextResponse:
        return PlainTextResponse("x")

    # A plain Starlette router keeps 100k requests quick; the route logic is the same.
    app = Starlette(routes=[Route("/items/{id}", item), Mount("/api", routes=[Route("/x", item)])])
    app = watchkeeper.instrument(app, service="t", registry=registry)
    rng = random.Random(7)
    methods = ["GET", "POST", "PROPFIND", "FOO", "DELETE"]
    request = {"type": "http.request", "body": b"", "more_body": False}

    async def receive() -> dict[str, Any]:
        return request

    async def send(message: Any) -> None:
        return None

    async def scan() -> None:
        for _ in range(100_000):
            path = "/" + "".join(rng.choices("abcdefghij/0123456789.", k=12))
            await app(_scope(path, rng.choice(methods)), receive, send)

    asyncio.run(scan())
    histogram = registry.get(DURATION)
    assert histogram is not None
    # every request is counted, in a handful of series
    assert sum(values(registry, DURATION + "_count")) == 100_000
    assert histogram.series_count() <= 10


def test_metrics_endpoint_negotiates_and_requires_credentials(registry: Registry) -> None:
    app = watchkeeper.instrument(
        build_fastapi(), service="t", registry=registry, metrics_token="s3cret"
    )
    client = TestClient(app)
    denied = client.get("/metrics")
    assert denied.status_code == 401
    assert "bearer" in denied.headers["www-authenticate"].lower()
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = client.get("/metrics", headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200
    assert ok.headers["content-type"].startswith("text/plain; version=0.0.4")
    om = client.get(
        "/metrics",
        headers={
            "Authorization": "Bearer s3cret",
            "Accept": "application/openmetrics-text;version=1.0.0,text/plain;q=0.5",
            "Accept-Encoding": "gzip",
        },
    )
    assert om.headers["content-type"].startswith("application/openmetrics-text")
    assert om.headers["content-encoding"] == "gzip"
    assert om.text.endswith("# EOF\n")


def test_metrics_path_is_configurable_and_can_be_disabled(registry: Registry) -> None:
    app = watchkeeper.instrument(
        build_fastapi(), service="t", registry=registry, metrics_path="/internal/metrics"
    )
    client = TestClient(app)
    assert "http_server_request_duration_seconds" in client.get("/internal/metrics").text
    assert client.get("/metrics").status_code == 404
    other = Registry()
    off = watchkeeper.instrument(build_fastapi(), service="t", registry=other, metrics_path=None)
    assert TestClient(off).get("/metrics").status_code == 404


def test_build_info_names_the_service(registry: Registry) -> None:
    watchkeeper.instrument(build_fastapi(), service="checkout", version="1.2.3", registry=registry)
    assert value(registry, "watchkeeper_build_info", service="checkout", version="1.2.3") == 1


def test_generic_asgi_app_is_wrapped(registry: Registry) -> None:
    async def raw_app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app = watchkeeper.instrument(raw_app, service="raw", registry=registry)
    assert app is not raw_app
    assert TestClient(app).get("/anything/123").status_code == 204
    assert value(registry, DURATION + "_count", http_route="_unmatched") == 1


@pytest.mark.parametrize("frames", [True, False], ids=["python-send", "frameless-send"])
@pytest.mark.parametrize("framework", [True, False], ids=["starlette", "raw-asgi"])
@pytest.mark.parametrize("failing", ["http.response.start", "http.response.body"])
def test_a_send_the_server_fails_with_oserror_is_a_499(
    registry: Registry, failing: str, framework: bool, frames: bool
) -> None:
    """ASGI servers raise an OSError subclass from send() on a closed connection: the
    request is a 499 (not the app's 500) and the error still reaches the app. The head
    goes to the send we were given unwatched, so its OSError is told by that send's
    frame in the traceback; a send that leaves no frame (a server written in C or Rust;
    here a functools.partial) is taken at its word, as the ASGI spec says. Starlette
    hands its middleware its own (Python) send; a raw app hands us the server's."""

    async def hello(request: Request) -> PlainTextResponse:
        return PlainTextResponse("hello")

    async def raw_hello(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"hello"})

    target = Starlette(routes=[Route("/hello", hello)]) if framework else raw_hello
    app = watchkeeper.instrument(target, service="t", registry=registry)
    route = "/hello" if framework else UNMATCHED_ROUTE

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def server_send(connection: str, message: Any) -> None:
        if message["type"] == failing:
            raise ConnectionResetError(f"{connection} reset")

    async def python_send(message: Any) -> None:
        await server_send("peer", message)

    send: Any = python_send if frames else functools.partial(server_send, "peer")
    assert frames or not hasattr(send, "__code__")
    with pytest.raises(ConnectionResetError):
        asyncio.run(app(_scope("/hello"), receive, send))
    assert values(registry, DURATION + "_count", http_route=route) == [1.0]
    got = value(
        registry,
        DURATION + "_count",
        http_route=route,
        http_response_status_code="499",
        error_type="ConnectionResetError",
    )
    assert got == 1


def test_an_oserror_the_app_raises_after_its_head_is_the_apps_error(registry: Registry) -> None:
    """The head goes to the server's send unwatched: an OSError that did not come out
    of that send (the app's own database connection failing mid-response) is the
    app's error, not a client that left."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise ConnectionRefusedError("database down")

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        pass

    instrumented = watchkeeper.instrument(app, service="t", registry=registry)
    with pytest.raises(ConnectionRefusedError):
        asyncio.run(instrumented(_scope("/report"), receive, send))
    assert values(registry, DURATION + "_count", http_response_status_code="499") == []
    got = value(
        registry,
        DURATION + "_count",
        http_response_status_code="200",
        error_type="ConnectionRefusedError",
    )
    assert got == 1


def test_hang_up_while_the_last_chunk_is_being_sent_is_not_a_499(registry: Registry) -> None:
    async def short() -> AsyncIterator[bytes]:
        yield b"all of it"

    async def body(request: Request) -> StreamingResponse:
        return StreamingResponse(short(), media_type="application/octet-stream")

    app = watchkeeper.instrument(
        Starlette(routes=[Route("/body", body)]), service="t", registry=registry
    )
    last_chunk_written = asyncio.Event()

    async def scenario() -> None:
        requested = False

        async def receive() -> dict[str, Any]:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await last_chunk_written.wait()  # the client leaves once it has everything
            return {"type": "http.disconnect"}

        async def send(message: Any) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body"):
                last_chunk_written.set()
                await asyncio.sleep(0.05)  # the server is still flushing the last chunk

        await app(_scope("/body"), receive, send)

    asyncio.run(scenario())
    assert value(registry, DURATION + "_count", http_route="/body") == 1
    assert values(registry, DURATION + "_count", http_response_status_code="499") == []
