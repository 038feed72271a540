"""Request bounds: oversized query strings and bodies get 413 before reaching the API."""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from tests.support.asgi import ASGIClient
from watchkeeper.monitor.web.limits import LimitsMiddleware


async def echo(request: Request) -> Response:
    return PlainTextResponse(str(len(await request.body())))


def client() -> ASGIClient:
    app = Starlette(routes=[Route("/", echo, methods=["GET", "POST"])])
    return ASGIClient(LimitsMiddleware(app, max_body_bytes=100, max_query_string_bytes=50))


def test_small_requests_pass() -> None:
    assert client().post("/?q=1", content=b"x" * 100).text == "100"


def test_long_query_string() -> None:
    r = client().get("/", params={"q": "x" * 60})
    assert r.status_code == 413
    assert r.json() == {
        "status": "error",
        "errorType": "bad_data",
        "error": "query string exceeds 50 bytes; send long queries as a POST form "
        "(application/x-www-form-urlencoded)",
    }


def test_large_body_by_content_length() -> None:
    assert client().post("/", content=b"x" * 101).status_code == 413


def test_large_streamed_body() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b"x" * 30

    assert client().post("/", content=chunks()).status_code == 413
