"""The WSGI middleware on Flask and plain WSGI apps."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Blueprint, Flask, Response, stream_with_context
from werkzeug.test import Client

import watchkeeper
from tests.instrument.conftest import value, values
from watchkeeper.instrument import wsgi as wsgi_module
from watchkeeper.instrument.registry import Registry

DURATION = "http_server_request_duration_seconds"


class FakeClock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def build_flask(clock: FakeClock | None = None) -> Flask:
    app = Flask("shop")
    bp = Blueprint("api", "shop", url_prefix="/api")

    @bp.get("/items/<int:item_id>")
    def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @app.get("/boom")
    def boom() -> str:
        raise KeyError("nope")

    @app.post("/upload")
    def upload() -> str:
        from flask import request

        return str(len(request.get_data()))

    @app.get("/stream")
    def stream() -> Response:
        def chunks() -> Iterator[bytes]:
            for _ in range(3):
                if clock is not None:
                    clock.now += 1.0
                yield b"z" * 10

        response = Response(stream_with_context(chunks()))
        if clock is not None:
            response.call_on_close(lambda: setattr(clock, "now", clock.now + 100.0))
        return response

    app.register_blueprint(bp)
    return app


def test_flask_routes_unmatched_and_errors(registry: Registry) -> None:
    app = watchkeeper.instrument(build_flask(), service="shop", registry=registry)
    client = app.test_client()
    assert client.get("/api/items/5", buffered=True).status_code == 200
    assert client.get("/api/items/6", buffered=True).status_code == 200
    assert client.get("/no/such/page", buffered=True).status_code == 404
    assert client.get("/boom", buffered=True).status_code == 500
    assert client.open("/api/items/5", buffered=True, method="BREW").status_code == 405
    count = DURATION + "_count"
    assert value(registry, count, http_route="/api/items/<int:item_id>") == 2
    assert value(registry, count, http_route="_unmatched", http_request_method="GET") == 1
    assert value(registry, count, http_route="/boom", http_response_status_code="500") == 1
    assert values(registry, count, http_request_method="_OTHER") == [1]
    assert value(registry, "http_server_active_requests", http_request_method="GET") == 0


def test_flask_exception_propagating_is_a_500_with_error_type(registry: Registry) -> None:
    flask_app = build_flask()
    flask_app.config["PROPAGATE_EXCEPTIONS"] = True
    app = watchkeeper.instrument(flask_app, service="shop", registry=registry)
    with pytest.raises(KeyError):
        app.test_client().get("/boom")
    assert value(registry, DURATION + "_count", error_type="KeyError") == 1


def test_flask_streamed_body_sizes_and_close_hooks_excluded(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    monkeypatch.setattr(wsgi_module, "perf_counter", clock)
    app = watchkeeper.instrument(build_flask(clock), service="shop", registry=registry)
    client = app.test_client()
    assert client.get("/stream", buffered=True).data == b"z" * 30
    assert client.post("/upload", buffered=True, data=b"q" * 321).data == b"321"
    assert value(registry, DURATION + "_sum", http_route="/stream") == pytest.approx(3.0)
    assert value(registry, "http_server_response_body_size_bytes_sum", http_route="/stream") == 30
    assert value(registry, "http_server_request_body_size_bytes_sum", http_route="/upload") == 321


def test_wsgi_iterable_closed_early_is_a_499(registry: Registry) -> None:
    app = watchkeeper.instrument(build_flask(), service="shop", registry=registry)
    import io
    import sys

    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET", "PATH_INFO": "/stream", "SERVER_NAME": "x", "SERVER_PORT": "80",
        "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(), "wsgi.errors": sys.stderr,
    }  # fmt: skip
    body = app.wsgi_app(environ, lambda status, headers, exc_info=None: None)  # type: ignore[arg-type]
    iterator = iter(body)
    next(iterator)  # the client got one chunk, then went away
    body.close()  # type: ignore[attr-defined]
    assert value(registry, DURATION + "_count", http_response_status_code="499") == 1


def test_flask_second_instrument_warns(registry: Registry) -> None:
    app = watchkeeper.instrument(build_flask(), service="shop", registry=registry)
    wsgi_app = app.wsgi_app
    with pytest.warns(RuntimeWarning):
        watchkeeper.instrument(app, registry=registry)
    assert app.wsgi_app is wsgi_app


def test_generic_wsgi_app_and_metrics_endpoint(registry: Registry) -> None:
    def plain(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("201 Created", [("Content-Type", "text/plain")])
        return [b"made"]

    app = watchkeeper.instrument(plain, service="plain", registry=registry, metrics_token="t0k")
    client = Client(app)
    assert client.post("/things/9", buffered=True).status_code == 201
    assert client.get("/metrics", buffered=True).status_code == 401
    scraped = client.get("/metrics", buffered=True, headers={"Authorization": "Bearer t0k"})
    assert scraped.status_code == 200
    assert b'http_response_status_code="201"' in scraped.data
    assert value(registry, DURATION + "_count", http_route="_unmatched") == 1
