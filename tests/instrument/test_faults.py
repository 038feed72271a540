"""Faults injected into the SDK never reach the application."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from flask import Flask
from starlette.testclient import TestClient

import watchkeeper
from tests.instrument.conftest import value
from watchkeeper.instrument import http as http_module
from watchkeeper.instrument.registry import Registry


def _explode(*args: Any, **kwargs: Any) -> None:
    raise RuntimeError("injected fault")


class _BrokenBuffer(list[Any]):
    def __iadd__(self, values: Any) -> Any:  # type: ignore[misc]  # how a request adds its values
        raise RuntimeError("injected fault")


@pytest.fixture
def broken_recording(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every way a finished request is recorded: the inlined += to its key's
    # list (ASGI's common path), record() (WSGI, abnormal endings), streams.
    monkeypatch.setattr(http_module.HTTPMetrics, "record", _explode)
    monkeypatch.setattr(http_module.HTTPMetrics, "record_stream", _explode)
    monkeypatch.setattr(http_module.HTTPMetrics, "observations", lambda self, key: _BrokenBuffer())


def test_asgi_fault_in_recording_is_contained(
    registry: Registry, broken_recording: None, caplog: pytest.LogCaptureFixture
) -> None:
    app = FastAPI()

    @app.get("/ok")
    def ok() -> dict[str, str]:
        return {"status": "fine"}

    app = watchkeeper.instrument(app, service="t", registry=registry)
    client = TestClient(app)
    for _ in range(3):
        response = client.get("/ok")
        assert response.status_code == 200
        assert response.json() == {"status": "fine"}
    assert value(registry, "watchkeeper_internal_errors_total", component="asgi.record") == 3
    # logged once (rate-limited), with what happened and that the app is unaffected
    logged = [r for r in caplog.records if "asgi.record" in r.getMessage()]
    assert len(logged) == 1
    assert "unaffected" in logged[0].getMessage()


def test_wsgi_fault_in_recording_is_contained(registry: Registry, broken_recording: None) -> None:
    app = Flask("t")

    @app.get("/ok")
    def ok() -> str:
        return "fine"

    app = watchkeeper.instrument(app, service="t", registry=registry)
    response = app.test_client().get("/ok", buffered=True)
    assert response.status_code == 200
    assert response.data == b"fine"
    assert value(registry, "watchkeeper_internal_errors_total", component="wsgi.record") == 1


def test_fault_in_route_resolution_is_contained(registry: Registry) -> None:
    app = FastAPI()

    @app.get("/ok")
    def ok() -> str:
        return "fine"

    app = watchkeeper.instrument(app, service="t", registry=registry)
    getattr(app, "__watchkeeper__").route_of = _explode  # noqa: B009
    assert TestClient(app).get("/ok").status_code == 200
    assert value(registry, "watchkeeper_internal_errors_total", component="asgi.record") == 1


def test_fault_in_a_collector_is_counted_and_the_scrape_still_answers(registry: Registry) -> None:
    app = watchkeeper.instrument(FastAPI(), service="t", registry=registry)
    registry.register_collector("broken", _explode)  # type: ignore[arg-type]
    scraped = TestClient(app).get("/metrics")
    assert scraped.status_code == 200
    assert "watchkeeper_build_info" in scraped.text
    assert value(registry, "watchkeeper_internal_errors_total", component="collector:broken") == 1


def test_fault_while_rendering_metrics_answers_500_not_an_exception(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = watchkeeper.instrument(FastAPI(), service="t", registry=registry)
    monkeypatch.setattr(getattr(app, "__watchkeeper__").endpoint, "respond", _explode)  # noqa: B009
    assert TestClient(app).get("/metrics").status_code == 500
    assert value(registry, "watchkeeper_internal_errors_total", component="metrics.render") == 1


def test_a_failing_server_send_propagates_once_and_is_never_retried(registry: Registry) -> None:
    import asyncio

    async def raw(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})

    app = watchkeeper.instrument(raw, service="t", registry=registry)
    calls: list[str] = []

    async def failing_send(message: Any) -> None:
        calls.append(message["type"])
        if message["type"] == "http.response.body":
            raise RuntimeError("the server's transport broke")

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {"type": "http", "method": "GET", "path": "/x", "headers": []}
    with pytest.raises(RuntimeError, match="transport broke"):
        asyncio.run(app(scope, receive, failing_send))
    assert calls == ["http.response.start", "http.response.body"]
    assert (
        value(registry, "http_server_request_duration_seconds_count", error_type="RuntimeError")
        == 1
    )
