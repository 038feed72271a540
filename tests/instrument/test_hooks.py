"""Request hooks run inside the request's context, in order, and never break it."""

from __future__ import annotations

import contextvars
import io
from collections.abc import Sequence
from typing import Any

import flask
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

import watchkeeper
from watchkeeper.instrument.hooks import RequestEnd, RequestInfo
from watchkeeper.instrument.registry import Registry

from .conftest import value

CURRENT: contextvars.ContextVar[str] = contextvars.ContextVar("current", default="-")


class Recorder:
    """A hook that sets a context variable and records what it saw."""

    def __init__(self, name: str, log: list[str], header: tuple[str, str] | None = None):
        self.name = name
        self.log = log
        self.header = header
        self.infos: list[dict[str, Any]] = []
        self.ends: list[RequestEnd] = []

    def begin(self, request: RequestInfo) -> contextvars.Token[str]:
        self.log.append(f"begin {self.name}")
        self.infos.append({
            "method": request.method,
            "path": request.path,
            "trace": request.header("x-trace"),
            "scheme": request.scheme,
            "query": request.query_string,
            "version": request.http_version,
        })  # fmt: skip
        return CURRENT.set(self.name)

    def response_headers(self, state: contextvars.Token[str]) -> Sequence[tuple[str, str]]:
        return [self.header] if self.header else []

    def end(self, state: contextvars.Token[str], outcome: RequestEnd) -> None:
        self.log.append(f"end {self.name}")
        self.ends.append(outcome)
        CURRENT.reset(state)


class Broken:
    def begin(self, request: RequestInfo) -> None:
        raise RuntimeError("hook bug")

    def response_headers(self, state: None) -> Sequence[tuple[str, str]]:
        return []

    def end(self, state: None, outcome: RequestEnd) -> None:
        raise AssertionError("end of a hook whose begin failed must not run")


def starlette_app(seen: list[str]) -> Starlette:
    async def item(request: Request) -> PlainTextResponse:
        seen.append(CURRENT.get())
        return PlainTextResponse("x" * 7, headers={"x-own": "app"})

    async def boom(request: Request) -> PlainTextResponse:
        raise KeyError("gone")

    return Starlette(routes=[Route("/items/{id:int}", item), Route("/boom", boom)])


def test_asgi_hooks_wrap_the_app_in_order_with_headers(registry: Registry) -> None:
    log: list[str] = []
    seen: list[str] = []
    first = Recorder("first", log, ("X-First", "1"))
    second = Recorder("second", log, ("x-own", "hook"))
    app = watchkeeper.instrument(
        starlette_app(seen), service="t", registry=registry, hooks=[first, second]
    )
    with TestClient(app) as client:
        response = client.get("/items/7?q=1", headers={"x-trace": "abc"})
    assert response.status_code == 200
    assert response.headers["x-first"] == "1"
    assert response.headers.get_list("x-own") == ["app"]  # the app's own value wins
    assert seen == ["second"]  # the app ran inside both hooks' context
    assert log == ["begin first", "begin second", "end second", "end first"]
    assert first.infos == [{
        "method": "GET", "path": "/items/7", "trace": "abc", "scheme": "http",
        "query": "q=1", "version": "1.1",
    }]  # fmt: skip
    (end,) = first.ends
    assert (end.route, end.status, end.error, end.response_bytes) == (
        "/items/{id}",
        200,
        None,
        7,
    )
    assert end.duration_s > 0
    assert CURRENT.get() == "-"


def test_asgi_hooks_see_the_exception_and_a_broken_hook_is_contained(registry: Registry) -> None:
    log: list[str] = []
    recorder = Recorder("r", log)
    app = watchkeeper.instrument(
        starlette_app([]), service="t", registry=registry, hooks=[Broken(), recorder]
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/boom").status_code == 500
        assert client.get("/items/1").status_code == 200
    error = recorder.ends[0].error
    assert isinstance(error, KeyError)
    assert (recorder.ends[0].route, recorder.ends[0].status) == ("/boom", 500)
    assert value(registry, "watchkeeper_internal_errors_total", component="hooks.begin") == 2
    # and the built-in error tracking counted the exception with its route
    assert value(registry, "watchkeeper_exceptions_total", type="KeyError", route="/boom") == 1


def flask_app(seen: list[str]) -> flask.Flask:
    app = flask.Flask("hooked")

    @app.get("/items/<int:item_id>")
    def item(item_id: int) -> str:
        seen.append(CURRENT.get())
        return "y" * 5

    @app.get("/boom")
    def boom() -> str:
        raise ValueError("bad")

    return app


def test_wsgi_hooks_and_flask_handled_errors(registry: Registry) -> None:
    log: list[str] = []
    seen: list[str] = []
    recorder = Recorder("w", log, ("X-Hook", "yes"))
    app = watchkeeper.instrument(flask_app(seen), service="t", registry=registry, hooks=[recorder])
    client = app.test_client()
    response = client.get("/items/3", headers={"X-Trace": "t1"}, buffered=True)
    assert response.status_code == 200
    assert response.headers["X-Hook"] == "yes"
    assert seen == ["w"]
    assert recorder.infos[0]["trace"] == "t1"
    assert recorder.ends[0].route == "/items/<int:item_id>"
    assert recorder.ends[0].response_bytes == 5
    assert client.get("/boom", buffered=True).status_code == 500
    # Flask answered the 500 itself; its signal kept the exception for us.
    assert isinstance(recorder.ends[1].error, ValueError)
    count = "http_server_request_duration_seconds_count"
    assert value(registry, count, http_route="/boom", error_type="ValueError") == 1
    assert value(registry, "watchkeeper_exceptions_total", type="ValueError", route="/boom") == 1
    assert log == ["begin w", "end w", "begin w", "end w"]
    assert CURRENT.get() == "-"


def test_no_hooks_at_all(registry: Registry) -> None:
    app = watchkeeper.instrument(
        starlette_app([]), service="t", registry=registry, track_exceptions=False, request_id=False
    )
    assert app.__watchkeeper__.hooks == ()  # type: ignore[attr-defined]
    assert app.__watchkeeper__.errors is None  # type: ignore[attr-defined]
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/boom").status_code == 500
    with pytest.raises(AssertionError):
        value(registry, "watchkeeper_exceptions_total", type="KeyError")


def test_request_ids_follow_the_logs_configuration(registry: Registry) -> None:
    """request_id=None (the default) means: on when watchkeeper.logs is configured."""
    from watchkeeper import logs

    def hook_names(**options: Any) -> list[str]:
        app = watchkeeper.instrument(starlette_app([]), registry=Registry(), **options)
        return [type(h).__name__ for h in app.__watchkeeper__.hooks]  # type: ignore[attr-defined]

    assert hook_names() == []
    assert hook_names(request_id=True) == ["RequestIdHook"]
    logs.configure(format="json", stream=io.StringIO())
    try:
        assert hook_names() == ["RequestIdHook"]
        assert hook_names(request_id=False) == []
    finally:
        logs.unconfigure()
    with TestClient(watchkeeper.instrument(starlette_app([]), registry=registry)) as client:
        assert "x-request-id" not in client.get("/items/1").headers
