"""The live-profiling endpoint over real uvicorn: token, bounds, what it finds."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator

import flask
import httpx
import pytest

import watchkeeper
from tests.instrument.servers import free_port, serve
from watchkeeper.errors import ConfigurationError
from watchkeeper.instrument.registry import Registry

TOKEN = secrets.token_urlsafe(24)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    port = free_port()
    argv = ["uvicorn", "tests.profiling.profiled_app:app", "--port", str(port), "--no-access-log"]
    with serve(argv, port, env={"WK_TEST_PROFILING_TOKEN": TOKEN}):
        yield f"http://127.0.0.1:{port}"


def test_refuses_without_the_token(server: str) -> None:
    url = f"{server}/debug/profile?seconds=0.2"
    no_token = httpx.get(url)
    assert no_token.status_code == 401
    assert no_token.headers["www-authenticate"].startswith("Bearer")
    wrong = httpx.get(url, headers={"authorization": "Bearer " + TOKEN[:-1] + "x"})
    assert wrong.status_code == 401
    assert "crunch" not in wrong.text


def test_bad_parameters_are_named(server: str) -> None:
    auth = {"authorization": f"Bearer {TOKEN}"}
    too_long = httpx.get(f"{server}/debug/profile?seconds=600", headers=auth)
    assert too_long.status_code == 400
    assert "seconds must be between" in too_long.text
    unknown = httpx.get(f"{server}/debug/profile?secs=1", headers=auth)
    assert unknown.status_code == 400
    assert "secs" in unknown.text
    assert httpx.post(f"{server}/debug/profile", headers=auth).status_code == 405


def test_profiles_the_live_process_while_it_serves(server: str) -> None:
    auth = {"authorization": f"Bearer {TOKEN}"}
    load = threading.Thread(target=lambda: httpx.get(f"{server}/crunch?seconds=2.5", timeout=30))
    load.start()
    try:
        response = httpx.get(
            f"{server}/debug/profile?seconds=1.5&format=json&top=80", headers=auth, timeout=30
        )
    finally:
        load.join()
    assert response.status_code == 200
    report = response.json()
    assert report["profile_cpu_unit"] == "samples"
    functions = [row["function"] for row in report["profile_cpu_top"]]
    assert any("crunch_numbers" in f or "<genexpr>" in f for f in functions), functions
    # the profile endpoint itself is never measured as app traffic
    metrics = httpx.get(f"{server}/metrics").text
    assert "/debug/profile" not in metrics


def test_flask_endpoint_and_not_mounted_without_a_token() -> None:
    app = flask.Flask("profiled")

    @app.get("/")
    def index() -> str:
        return "ok"

    plain = watchkeeper.instrument(flask.Flask("plain"), service="p", registry=Registry())
    assert plain.test_client().get("/debug/profile", buffered=True).status_code == 404
    app = watchkeeper.instrument(app, service="f", registry=Registry(), profiling_token=TOKEN)
    client = app.test_client()
    assert client.get("/debug/profile", buffered=True).status_code == 401
    ok = client.get(
        "/debug/profile?seconds=0.2", headers={"authorization": f"Bearer {TOKEN}"}, buffered=True
    )
    assert ok.status_code == 200
    assert ok.data.startswith(b"profile 'live process'")


def test_a_short_token_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="at least 16 characters"):
        watchkeeper.instrument(
            flask.Flask("weak"), service="w", registry=Registry(), profiling_token="secret"
        )
