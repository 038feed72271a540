"""/health, /ready and /health/detailed mounted by instrument() on FastAPI and Flask."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from flask import Flask
from starlette.testclient import TestClient

import watchkeeper
from tests.instrument.conftest import value, values
from watchkeeper import health
from watchkeeper.instrument.registry import Registry


def boom() -> None:
    raise ConnectionError("refused")


def fastapi_app(registry: Registry, **kw: Any) -> TestClient:
    app = FastAPI()

    @app.get("/orders")
    def orders() -> list[int]:
        return []

    return TestClient(watchkeeper.instrument(app, service="t", registry=registry, **kw))


def flask_client(registry: Registry, **kw: Any) -> Any:
    app = Flask("t")

    @app.get("/orders")
    def orders() -> str:
        return "[]"

    return watchkeeper.instrument(app, service="t", registry=registry, **kw).test_client()


def both(registry: Registry, **kw: Any) -> list[Any]:
    return [fastapi_app(registry, **kw), flask_client(Registry(), **kw)]


def test_liveness_runs_no_check(registry: Registry) -> None:
    calls: list[int] = []
    for client in both(registry, checks=[health.Check(lambda: calls.append(1), name="db")]):
        response = client.get("/health")
        assert response.status_code == 200
        assert orjson.loads(response.data if hasattr(response, "data") else response.content) == {
            "status": "ok"
        }
    assert calls == []


def _json(response: Any) -> Any:
    return orjson.loads(response.data if hasattr(response, "data") else response.content)


@pytest.mark.parametrize("framework", ["fastapi", "flask"])
def test_degraded_vs_unhealthy(registry: Registry, framework: str) -> None:
    make = fastapi_app if framework == "fastapi" else flask_client
    degraded = make(
        registry,
        checks=[
            health.Check(lambda: True, name="db"),
            health.Check(boom, name="search", critical=False),
        ],
    )
    assert degraded.get("/ready").status_code == 200
    response = degraded.get("/health/detailed")
    assert response.status_code == 200
    body = _json(response)
    assert body["status"] == "degraded"
    assert body["checks"]["search"]["error"] == "ConnectionError: refused"
    assert body["checks"]["db"]["status"] == "pass"

    unhealthy = make(Registry(), checks=[health.Check(boom, name="db")])
    ready = unhealthy.get("/ready")
    assert ready.status_code == 503
    assert _json(ready) == {"status": "unready", "failing": ["db"]}
    response = unhealthy.get("/health/detailed")
    assert response.status_code == 503
    assert _json(response)["status"] == "unhealthy"


def test_canary_exercises_the_real_function(registry: Registry) -> None:
    def verify(expression: str) -> int:
        left, right = expression.split("+")
        return int(left) + int(right)

    async def verify_async() -> int:
        await asyncio.sleep(0)
        return verify("2+2")

    client = fastapi_app(
        registry,
        checks=[
            health.canary(lambda: verify("2+2"), expect=4, name="verify"),
            health.canary(verify_async, expect=4),
            health.canary(lambda: verify("2+3"), expect=4, name="broken", critical=False),
        ],
    )
    body = _json(client.get("/health/detailed"))
    assert body["checks"]["verify"]["status"] == "pass"
    assert body["checks"]["verify_async"]["status"] == "pass"
    assert (
        body["checks"]["broken"]["error"] == "AssertionError: canary broken returned 5, expected 4"
    )


def test_a_probe_storm_calls_the_check_once(registry: Registry) -> None:
    calls: list[int] = []
    check = health.Check(lambda: calls.append(1), name="db", cache=60)
    for client in both(registry, checks=[check]):
        for _ in range(25):
            assert client.get("/ready").status_code == 200
            assert client.get("/health/detailed").status_code == 200
    assert calls == [1]


def test_token_restricts_the_detailed_report(registry: Registry) -> None:
    for client in both(registry, health_token="s3cret", checks=[health.Check(boom, name="db")]):
        denied = client.get("/health/detailed")
        assert denied.status_code == 401
        assert denied.headers["www-authenticate"] == 'Bearer realm="health"'
        assert b"db" not in (denied.data if hasattr(denied, "data") else denied.content)
        wrong = client.get("/health/detailed", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        ok = client.get("/health/detailed", headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 503
        assert _json(ok)["checks"]["db"]["status"] == "fail"
        ready = client.get("/ready")  # probes stay open, without naming internals
        assert ready.status_code == 503
        assert _json(ready) == {"status": "unready"}
        assert client.get("/health").status_code == 200


def test_paths_are_configurable_and_can_be_disabled(registry: Registry) -> None:
    paths = {"live": "/healthz", "ready": "/readyz", "detailed": None}
    for client in both(registry, health_paths=paths):
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 200
        assert client.get("/health").status_code == 404
        assert client.get("/health/detailed").status_code == 404
    for client in both(Registry(), health=False):
        assert client.get("/health").status_code == 404
        assert client.get("/ready").status_code == 404


def test_methods_and_head(registry: Registry) -> None:
    for client in both(registry):
        assert client.post("/ready").status_code == 405
        head = client.head("/ready")
        assert head.status_code == 200
        assert (head.data if hasattr(head, "data") else head.content) == b""


def test_probes_are_not_measured_and_metrics_show_checks(registry: Registry) -> None:
    client = fastapi_app(
        registry,
        checks=[
            health.Check(lambda: True, name="db"),
            health.Check(boom, name="s", critical=False),
        ],
    )
    client.get("/orders")
    client.get("/health")
    client.get("/health/detailed")
    text = client.get("/metrics").text
    assert 'watchkeeper_health_check_status{check="db",critical="true"} 1' in text
    assert 'watchkeeper_health_check_status{check="s",critical="false"} 0' in text
    assert "watchkeeper_health_check_duration_seconds" in text
    routes = values(registry, "http_server_request_duration_seconds_count")
    assert routes == [1]  # /orders only: probes are not traffic
    assert value(registry, "http_server_request_duration_seconds_count", http_route="/orders") == 1


def test_flask_metrics_show_checks(registry: Registry) -> None:
    client = flask_client(registry, checks=[health.Check(boom, name="db")])
    client.get("/ready")
    assert value(registry, "watchkeeper_health_check_status", check="db", critical="true") == 0


def test_an_apps_own_health_route_is_left_alone(
    registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    app = FastAPI()

    @app.get("/health")
    def mine() -> dict[str, str]:
        return {"mine": "yes"}

    with caplog.at_level(logging.WARNING, logger="watchkeeper"):
        client = TestClient(watchkeeper.instrument(app, service="t", registry=registry))
    assert client.get("/health").json() == {"mine": "yes"}
    assert client.get("/ready").status_code == 200
    assert "already serves /health" in caplog.text


def test_of_returns_the_apps_registry(registry: Registry) -> None:
    app = watchkeeper.instrument(FastAPI(), service="t", registry=registry)
    health.of(app).add_check(boom, name="late")
    assert TestClient(app).get("/ready").status_code == 503
    with pytest.raises(watchkeeper.ConfigurationError, match="no health probes"):
        health.of(watchkeeper.instrument(FastAPI(), registry=Registry(), health=False))


def test_a_fault_in_the_machinery_is_contained(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = watchkeeper.instrument(FastAPI(), service="t", registry=registry)

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(health.HealthRegistry, "run_async", broken)
    response = TestClient(app).get("/ready")
    assert response.status_code == 500
    assert value(registry, "watchkeeper_internal_errors_total", component="health.respond") == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"health_paths": {"live": "health"}}, "must be a path starting with '/'"),
        ({"health_paths": {"live": "/x", "ready": "/x"}}, "used twice"),
        ({"health_paths": {"liveness": "/x"}}, r"unknown key\(s\) \['liveness'\]"),
        ({"health_paths": {"live": "/metrics"}}, "also the metrics_path"),
        ({"health_token": ""}, "non-empty"),
    ],
)
def test_bad_health_options_say_what_to_fix(
    registry: Registry, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(watchkeeper.ConfigurationError, match=message):
        watchkeeper.instrument(FastAPI(), registry=registry, **kwargs)


def test_a_plain_asgi_app_gets_the_probes_too(registry: Registry) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    client = TestClient(watchkeeper.instrument(app, registry=registry, checks=[boom]))
    assert client.get("/health").status_code == 200
    assert client.get("/ready").json() == {"status": "unready", "failing": ["boom"]}
