"""A real uvicorn process: async clients checked on the server's own loop, and readiness
following PostgreSQL as the proxy in front of it is cut and restored."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.health.conftest import TCPProxy
from tests.instrument.servers import free_port, serve


def _ready_until(base: str, status: int, within: float = 15.0) -> httpx.Response:
    deadline = time.monotonic() + within
    while True:
        response = httpx.get(f"{base}/ready", timeout=10)
        if response.status_code == status or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


@pytest.mark.slow
def test_readiness_on_a_real_server_follows_postgres(pg_proxy: TCPProxy) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = ["uvicorn", "tests.health.servers.asyncpg_app:app", "--port", str(port),
            "--host", "127.0.0.1", "--log-level", "warning"]  # fmt: skip
    with serve(argv, port, env={"WK_PG_PORT": str(pg_proxy.port)}):
        assert httpx.get(f"{base}/health", timeout=5).json() == {"status": "ok"}
        assert _ready_until(base, 200).status_code == 200
        detailed = httpx.get(f"{base}/health/detailed", timeout=10).json()
        assert detailed["status"] == "healthy"
        assert set(detailed["checks"]) == {"postgres", "redis"}

        pg_proxy.stop()
        down = _ready_until(base, 503)
        assert down.status_code == 503
        assert down.json() == {"status": "unready", "failing": ["postgres"]}
        assert httpx.get(f"{base}/health", timeout=5).status_code == 200  # liveness holds

        pg_proxy.start()
        assert _ready_until(base, 200).status_code == 200
        metrics = httpx.get(f"{base}/metrics", timeout=5).text
        assert 'watchkeeper_health_check_status{check="postgres",critical="true"} 1' in metrics
