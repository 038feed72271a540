"""DNS-rebinding protection: a tokenless loopback monitor answers only requests whose
``Host`` names the loopback; with a token any ``Host`` is fine (the token is the lock)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.support.asgi import ASGIClient
from watchkeeper.monitor.server import Monitor, MonitorConfig
from watchkeeper.monitor.web.hostcheck import is_loopback_host


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.0.0.1:9099",
        "127.1.2.3:80",
        "localhost",
        "LOCALHOST:9099",
        "localhost.:9099",
        "[::1]",
        "[::1]:9099",
    ],
)
def test_loopback_hosts(host: str) -> None:
    assert is_loopback_host(host)


@pytest.mark.parametrize(
    "host",
    [
        "evil.example",
        "evil.example:9099",
        "127.0.0.1.evil.example",
        "localhost.evil.example:9099",
        "10.0.0.1:9099",
        "0.0.0.0:9099",
        "[::ffff:10.0.0.1]:9099",
        "::1",  # an IPv6 address in Host needs brackets
        "",
    ],
)
def test_other_hosts(host: str) -> None:
    assert not is_loopback_host(host)


def test_tokenless_loopback_monitor_refuses_foreign_host(tmp_path: Path) -> None:
    monitor = Monitor(MonitorConfig(data_dir=tmp_path / "data"), console=True)
    try:
        ok = ASGIClient(monitor.app, base_url="http://127.0.0.1:9099")
        assert ok.get("/api/v1/query", params={"query": "1"}).status_code == 200
        assert ok.get("/", headers={"host": "localhost:9099"}).status_code == 200
        assert ok.get("/", headers={"host": "[::1]:9099"}).status_code == 200
        rebound = ASGIClient(monitor.app, base_url="http://rebind.evil.example:9099")
        for path in ("/", "/api/v1/query?query=up", "/api/v2/silences"):
            r = rebound.get(path)
            assert r.status_code == 421, path
            assert r.json()["errorType"] == "misdirected_request"
            assert "rebind.evil.example:9099" in r.json()["error"]
            assert "--token" in r.json()["error"]
        posted = rebound.post("/api/v2/silences", json={})
        assert posted.status_code == 421
    finally:
        asyncio.run(monitor.stop())


def test_with_a_token_any_host_may_ask(tmp_path: Path) -> None:
    config = MonitorConfig(data_dir=tmp_path / "data", host="0.0.0.0", token="s3cret")
    monitor = Monitor(config)
    try:
        client = ASGIClient(monitor.app, base_url="http://monitor.internal:9099")
        r = client.get("/api/v1/query", params={"query": "1"})
        assert r.status_code == 401  # the token, not the Host, decides
        r = client.get("/api/v1/query", params={"query": "1", "token": "s3cret"})
        assert r.status_code == 200
    finally:
        asyncio.run(monitor.stop())
