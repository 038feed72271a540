"""Built-in checks against real PostgreSQL and Redis on 127.0.0.1, and local servers."""

from __future__ import annotations

import asyncio
import http.server
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import asyncpg
import psycopg
import pytest
import redis as redis_py
import redis.asyncio as redis_asyncio
import sqlalchemy
from fastapi import FastAPI
from flask import Flask
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.testclient import TestClient

import watchkeeper
from tests.health.conftest import PG_DSN, REDIS_URL, SilentServer, TCPProxy
from watchkeeper import health
from watchkeeper.errors import ConfigurationError
from watchkeeper.health import Check, CheckResult, HealthRegistry
from watchkeeper.health import builtin as builtin_module
from watchkeeper.instrument.registry import Registry


def run(check: Check) -> CheckResult:
    return HealthRegistry([check], registry=Registry()).run().results[0]


async def run_async(check: Check) -> CheckResult:
    return (await HealthRegistry([check], registry=Registry()).run_async()).results[0]


# -- PostgreSQL ---------------------------------------------------------------------------
def test_postgres_every_client_kind() -> None:
    engine = sqlalchemy.create_engine(PG_DSN.replace("postgresql://", "postgresql+psycopg://"))
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        checks = [
            health.postgres(PG_DSN, name="dsn"),
            health.postgres(PG_DSN, name="dsn_asyncpg", driver="asyncpg"),
            health.postgres(engine, name="engine"),
            health.postgres(conn, name="conn"),
        ]
        for check in checks:
            result = run(check)
            assert result.ok, (check.name, result.error)
    engine.dispose()


def test_postgres_async_clients_on_the_apps_loop() -> None:
    async def main() -> list[CheckResult]:
        engine = create_async_engine(PG_DSN.replace("postgresql://", "postgresql+asyncpg://"))
        pool = await asyncpg.create_pool(PG_DSN, min_size=1, max_size=1)
        aconn = await psycopg.AsyncConnection.connect(PG_DSN, autocommit=True)
        try:
            checks = [
                health.postgres(engine, name="async_engine"),
                health.postgres(pool, name="asyncpg_pool"),
                health.postgres(aconn, name="psycopg_async"),
            ]
            return [await run_async(c) for c in checks]
        finally:
            await aconn.close()
            await pool.close()
            await engine.dispose()

    for result in asyncio.run(main()):
        assert result.ok, (result.name, result.error)


def test_a_bad_password_is_not_shown() -> None:
    bad = "postgresql://nobody:hunter2@127.0.0.1:5432/test"
    result = run(health.postgres(bad))
    assert not result.ok
    assert result.error is not None
    assert "hunter2" not in result.error


def test_readiness_follows_postgres_through_a_proxy(pg_proxy: TCPProxy) -> None:
    dsn = f"postgresql://postgres@127.0.0.1:{pg_proxy.port}/test"
    app = FastAPI()
    app = watchkeeper.instrument(
        app,
        service="t",
        registry=Registry(),
        checks=[
            health.postgres(dsn, cache=0, timeout=3),
            health.redis(REDIS_URL, cache=0, timeout=3),
        ],
    )
    client = TestClient(app)
    assert client.get("/ready").status_code == 200
    pg_proxy.stop()
    down = client.get("/ready")
    assert down.status_code == 503
    assert down.json() == {"status": "unready", "failing": ["postgres"]}
    detailed = client.get("/health/detailed").json()
    assert detailed["checks"]["postgres"]["status"] == "fail"
    assert detailed["checks"]["postgres"]["last_success"] is not None
    assert detailed["checks"]["redis"]["status"] == "pass"
    pg_proxy.start()
    assert client.get("/ready").status_code == 200


# -- Redis ----------------------------------------------------------------------------------
def test_redis_sync_url_and_async_client() -> None:
    client = redis_py.Redis.from_url(REDIS_URL)
    assert run(health.redis(client)).ok
    assert run(health.redis(REDIS_URL)).ok
    client.close()

    async def main() -> CheckResult:
        aclient = redis_asyncio.Redis.from_url(REDIS_URL)
        try:
            return await run_async(health.redis(aclient))
        finally:
            await aclient.aclose()

    assert asyncio.run(main()).ok


def test_redis_down_is_a_failure() -> None:
    result = run(health.redis("redis://127.0.0.1:1/0", timeout=1))
    assert not result.ok
    assert result.error is not None
    assert "ConnectionError" in result.error


# -- a dependency that accepts and never answers ------------------------------------------
def silent_checks(port: int) -> list[Check]:
    timeout = 1.0
    return [
        health.postgres(f"postgresql://u:pw@127.0.0.1:{port}/x", timeout=timeout),
        health.postgres(
            f"postgresql://u@127.0.0.1:{port}/x", name="pg_async", driver="asyncpg",
            timeout=timeout,
        ),
        health.redis(f"redis://127.0.0.1:{port}/0", timeout=timeout, critical=False),
        health.http(f"http://127.0.0.1:{port}/", name="api", timeout=timeout, critical=False),
        health.tcp("127.0.0.1", 9, timeout=timeout, critical=False),  # refused: fast failure
    ]  # fmt: skip


@pytest.mark.parametrize("framework", ["fastapi", "flask"])
def test_a_silent_dependency_is_answered_within_the_timeout(
    silent: SilentServer, framework: str
) -> None:
    checks = silent_checks(silent.port)
    client: Any
    if framework == "fastapi":
        client = TestClient(watchkeeper.instrument(FastAPI(), registry=Registry(), checks=checks))
    else:
        app = Flask("t")
        client = watchkeeper.instrument(app, registry=Registry(), checks=checks).test_client()
    start = time.monotonic()
    response = client.get("/health/detailed")
    elapsed = time.monotonic() - start
    assert elapsed < 1.0 + 1.0, elapsed
    assert response.status_code == 503
    body = response.get_json() if framework == "flask" else response.json()
    assert body["status"] == "unhealthy"
    for name in ("postgres", "pg_async", "redis", "api"):
        assert body["checks"][name]["status"] == "fail"
        assert "TimeoutError" in body["checks"][name]["error"] or "timeout" in (
            body["checks"][name]["error"].lower()
        ), body["checks"][name]
    assert "pw" not in str(body)


# -- HTTP, TCP, disk, memory ------------------------------------------------------------------
@pytest.fixture
def http_server() -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            code = 500 if self.path == "/broken" else 200
            if self.path == "/slow":
                time.sleep(0.3)
            self.send_response(code)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_status_and_latency(http_server: str) -> None:
    assert run(health.http(http_server + "/ok")).ok
    broken = run(health.http(http_server + "/broken"))
    assert broken.error == f"ConnectionError: HTTP 500 from {http_server}/broken"
    slow = run(health.http(http_server + "/slow", max_latency=0.1))
    assert slow.error is not None
    assert "over max_latency 100 ms" in slow.error
    assert health.http("https://user:pw@example.com/x").name == "http:example.com"
    with pytest.raises(ConfigurationError, match="http:// or https://"):
        health.http("ftp://x")


def test_tcp(silent: SilentServer) -> None:
    assert run(health.tcp("127.0.0.1", silent.port)).ok
    assert not run(health.tcp("127.0.0.1", 9, timeout=1)).ok


def test_disk_and_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    assert run(health.disk("/", min_free_percent=0)).ok
    full = run(health.disk("/", min_free_percent=100.1))
    assert full.error is not None
    assert "below 100.1%" in full.error
    assert run(health.memory(max_used_percent=100)).ok
    with_psutil = builtin_module.memory_used_percent()
    monkeypatch.setitem(sys.modules, "psutil", None)  # the /proc/meminfo fallback
    without = builtin_module.memory_used_percent()
    assert 0 < without < 100
    assert abs(with_psutil - without) < 20
    assert not run(health.memory(max_used_percent=0)).ok


def test_unknown_clients_and_missing_drivers_say_what_to_do(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ConfigurationError, match="cannot check a object"):
        health.postgres(object())
    with pytest.raises(ConfigurationError, match="cannot check a int"):
        health.redis(3)
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(ConfigurationError, match=r"pip install 'watchkeeper\[postgres\]'"):
        health.postgres(PG_DSN)
