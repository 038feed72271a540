"""The request hook through the WSGI middleware (Flask's test client) and on its own."""

from __future__ import annotations

import contextvars
import logging
import threading
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

import watchkeeper
import watchkeeper.logs as wlogs
from watchkeeper.instrument.hooks import RequestEnd, WSGIRequestInfo
from watchkeeper.instrument.registry import Registry
from watchkeeper.logs import RequestIdHook
from watchkeeper.testing import capture_logs

log = logging.getLogger("shop.views")


def build_flask(**options: Any) -> Flask:
    app = Flask("shop")

    @app.get("/orders/<int:order_id>")
    def order(order_id: int) -> dict[str, int]:
        log.info("handler")
        wlogs.bind(user_id=order_id)
        t = threading.Thread(
            target=contextvars.copy_context().run, args=(lambda: log.info("thread"),)
        )
        t.start()
        t.join()
        return {"order": order_id}

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("kaput")

    @app.teardown_request
    def teardown(exc: BaseException | None) -> None:
        log.info("teardown")

    return watchkeeper.instrument(app, service="shop", registry=Registry(), **options)


def get(client: FlaskClient, path: str, headers: dict[str, str] | None = None) -> TestResponse:
    """A request whose body is read and closed, as a WSGI server does (the test client
    is lazy: the request only ends when its body has been consumed)."""
    response = client.get(path, headers=headers or {})
    response.get_data()
    response.close()
    return response


def test_flask_lines_share_the_request_id_which_is_echoed() -> None:
    client = build_flask(access_log=True).test_client()
    with capture_logs() as lines:
        response = get(client, "/orders/7")
    rid = response.headers["X-Request-ID"]
    assert len(rid) == 32
    int(rid, 16)
    by_message = {line["message"]: line for line in lines}
    assert set(by_message) >= {"handler", "thread", "teardown"}
    assert {line["request_id"] for line in lines} == {rid}
    assert "user_id" not in by_message["handler"]
    assert by_message["thread"]["user_id"] == 7
    access = next(line for line in lines if line["logger"] == "watchkeeper.access")
    assert access["message"].startswith("GET /orders/<int:order_id> 200 ")
    assert access["http_request_method"] == "GET"
    assert access["http_route"] == "/orders/<int:order_id>"
    assert access["url_path"] == "/orders/7"
    assert access["http_response_status_code"] == 200
    assert access["duration_ms"] >= 0
    assert access["http_request_body_size"] == 0
    assert access["http_response_body_size"] == len(response.data)
    assert access["user_id"] == 7  # bound during the request: on the access line too
    assert wlogs.request_id() is None


def test_flask_incoming_id_is_continued_and_an_invalid_one_replaced() -> None:
    client = build_flask(request_id=True).test_client()
    with capture_logs() as lines:
        ok = get(client, "/orders/1", {"X-Request-ID": "edge-42:a.b_c"})
        bad = get(client, "/orders/2", {"X-Request-ID": "evil id <script>"})
        long = get(client, "/orders/3", {"X-Request-ID": "a" * 129})
    assert ok.headers["X-Request-ID"] == "edge-42:a.b_c"
    assert len(bad.headers["X-Request-ID"]) == 32
    assert len(long.headers["X-Request-ID"]) == 32
    ids = [line["request_id"] for line in lines if line["message"] == "handler"]
    assert ids == [
        ok.headers["X-Request-ID"],
        bad.headers["X-Request-ID"],
        long.headers["X-Request-ID"],
    ]
    assert not any("script" in str(line) or "a" * 129 in str(line) for line in lines)


def test_flask_exception_line_carries_the_request_id() -> None:
    client = build_flask(request_id=True).test_client()
    with capture_logs() as lines:
        response = get(client, "/boom")
    assert response.status_code == 500
    errors = [line for line in lines if line["logger"] == "watchkeeper.errors"]
    assert len(errors) == 1
    assert errors[0]["request_id"] == response.headers["X-Request-ID"]
    assert errors[0]["exception"]["type"] == "RuntimeError"


def test_request_id_can_be_turned_off() -> None:
    client = build_flask(request_id=False).test_client()
    with capture_logs() as lines:
        response = get(client, "/orders/1")
    assert "X-Request-ID" not in response.headers
    assert all("request_id" not in line for line in lines)


def _info(headers: dict[str, str]) -> WSGIRequestInfo:
    environ = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    return WSGIRequestInfo("GET", "/x", environ)


@pytest.mark.parametrize("trust", [True, False])
def test_hook_can_ignore_incoming_ids(trust: bool) -> None:
    hook = RequestIdHook(trust_incoming=trust)
    state = hook.begin(_info({"X-Request-ID": "from-proxy"}))
    try:
        assert (wlogs.request_id() == "from-proxy") is trust
        assert hook.response_headers(state) == (("x-request-id", wlogs.request_id()),)
    finally:
        hook.end(state, RequestEnd("/x", 200, None, 0.001, 0, 0))
    assert wlogs.request_id() is None


def test_fresh_ids_are_unique() -> None:
    hook = RequestIdHook()
    seen = set()
    for _ in range(1000):
        state = hook.begin(_info({}))
        seen.add(hook.response_headers(state)[0][1])
        hook.end(state, RequestEnd("/x", 200, None, 0.001, 0, 0))
    assert len(seen) == 1000
