"""The WSGI middleware's per-request object: request bodies (chunked too), streamed
responses that fail, hook headers, and faults kept away from the app."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

import watchkeeper
from tests.instrument.conftest import value
from watchkeeper.instrument.hooks import RequestEnd, RequestInfo
from watchkeeper.instrument.registry import Registry

REQUEST_SIZE = "http_server_request_body_size_bytes"
RESPONSE_SIZE = "http_server_response_body_size_bytes"
DURATION = "http_server_request_duration_seconds"


def environ_for(method: str = "GET", **extra: Any) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method, "PATH_INFO": "/x", "SERVER_NAME": "x", "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
        "wsgi.input": io.BytesIO(b""),
    }  # fmt: skip
    environ.update(extra)
    return environ


class Server:
    """What a WSGI server does with the app: start_response, iterate, close."""

    def __init__(self) -> None:
        self.status = ""
        self.headers: list[tuple[str, str]] = []

    def start_response(self, status: str, headers: Any, exc_info: Any = None) -> Any:
        self.status, self.headers = status, list(headers)
        return None

    def run(self, app: Any, environ: dict[str, Any]) -> bytes:
        result = app(environ, self.start_response)
        try:
            return b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()


def reader(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """Reads the whole request body the way the server handed it over."""
    stream = environ["wsgi.input"]
    if environ.get("HTTP_TRANSFER_ENCODING") == "chunked":
        data = b"".join(iter(lambda: stream.read(7), b""))
    else:
        data = stream.read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(len(data)).encode()]


def test_chunked_request_body_without_length_is_counted(registry: Registry) -> None:
    app = watchkeeper.instrument(reader, service="t", registry=registry)
    environ = environ_for("POST", HTTP_TRANSFER_ENCODING="chunked")
    environ["wsgi.input"] = io.BytesIO(b"c" * 100)
    environ["wsgi.input_terminated"] = True
    assert Server().run(app, environ) == b"100"
    assert value(registry, REQUEST_SIZE + "_sum", http_request_method="POST") == 100


def test_request_body_with_length_is_counted(registry: Registry) -> None:
    app = watchkeeper.instrument(reader, service="t", registry=registry)
    environ = environ_for("PUT", CONTENT_LENGTH="42")
    environ["wsgi.input"] = io.BytesIO(b"l" * 42)
    assert Server().run(app, environ) == b"42"
    assert value(registry, REQUEST_SIZE + "_sum", http_request_method="PUT") == 42


@pytest.mark.parametrize("length", [None, "", "0"])
def test_request_without_body_keeps_the_input(registry: Registry, length: str | None) -> None:
    seen: list[Any] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(environ["wsgi.input"])
        start_response("204 No Content", [])
        return []

    wrapped = watchkeeper.instrument(app, service="t", registry=registry)
    environ = environ_for() if length is None else environ_for(CONTENT_LENGTH=length)
    original = environ["wsgi.input"]
    Server().run(wrapped, environ)
    assert seen == [original]  # nothing to count: no wrapper
    assert value(registry, REQUEST_SIZE + "_sum", http_response_status_code="204") == 0


def test_error_while_streaming_is_a_500_with_the_bytes_sent(registry: Registry) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [])
        yield b"a" * 4
        raise ConnectionResetError("backend gone")

    wrapped = watchkeeper.instrument(app, service="t", registry=registry)
    with pytest.raises(ConnectionResetError):
        Server().run(wrapped, environ_for())
    labels = {"error_type": "ConnectionResetError", "http_response_status_code": "200"}
    assert value(registry, RESPONSE_SIZE + "_sum", **labels) == 4
    assert value(registry, "http_server_active_requests", http_request_method="GET") == 0


def test_error_before_start_response_is_a_500(registry: Registry) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        raise LookupError("no such thing")

    wrapped = watchkeeper.instrument(app, service="t", registry=registry)
    with pytest.raises(LookupError):
        Server().run(wrapped, environ_for())
    assert value(registry, DURATION + "_count", http_response_status_code="500") == 1
    assert value(registry, "watchkeeper_exceptions_total", type="LookupError") == 1


class HeaderHook:
    def __init__(self) -> None:
        self.ends: list[RequestEnd] = []

    def begin(self, request: RequestInfo) -> str:
        return "state"

    def response_headers(self, state: str) -> Sequence[tuple[str, str]]:
        return [("X-Request-ID", "from-hook"), ("X-Extra", "1")]

    def end(self, state: str, outcome: RequestEnd) -> None:
        self.ends.append(outcome)


def test_hook_headers_added_but_the_apps_own_win(registry: Registry) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("x-request-id", "from-app")])
        return [b"abc", b"de"]

    hook = HeaderHook()
    wrapped = watchkeeper.instrument(app, service="t", registry=registry, hooks=[hook])
    server = Server()
    assert server.run(wrapped, environ_for()) == b"abcde"
    assert server.headers == [("x-request-id", "from-app"), ("X-Extra", "1")]
    [end] = hook.ends
    assert (end.status, end.response_bytes, end.error) == (200, 5, None)


def test_broken_start_response_hook_is_contained(registry: Registry) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [])
        return [b"ok"]

    wrapped = watchkeeper.instrument(app, service="t", registry=registry)

    def explode(environ: dict[str, Any]) -> None:
        raise RuntimeError("injected fault")

    wrapped.__watchkeeper__.on_start_response = explode  # type: ignore[attr-defined]
    server = Server()
    assert server.run(wrapped, environ_for()) == b"ok"
    assert server.status == "200 OK"
    assert value(registry, "watchkeeper_internal_errors_total", component="wsgi.status") == 1
    assert value(registry, DURATION + "_count", http_response_status_code="200") == 1
