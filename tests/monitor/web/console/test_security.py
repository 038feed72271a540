from __future__ import annotations

from starlette.types import Scope

from watchkeeper.monitor.web.console.security import same_origin


def _scope(**headers: str) -> Scope:
    return {
        "type": "http",
        "method": "POST",
        "headers": [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()],
    }


def test_same_origin_from_origin_or_referer() -> None:
    host = "127.0.0.1:9099"
    assert same_origin(_scope(host=host, origin=f"http://{host}")) is True
    assert same_origin(_scope(host=host, referer=f"http://{host}/alerts?x=1")) is True
    assert same_origin(_scope(host=host, origin="http://evil.example")) is False
    assert same_origin(_scope(host=host, origin="null")) is False
    # A page on another port of the same machine is another origin.
    assert same_origin(_scope(host=host, origin="http://127.0.0.1:8000")) is False


def test_fetch_metadata_wins_and_silence_means_not_a_browser() -> None:
    host = "127.0.0.1:9099"
    assert same_origin(_scope(host=host, sec_fetch_site="cross-site")) is False
    assert same_origin(_scope(host=host, sec_fetch_site="same-site")) is False
    assert same_origin(_scope(host=host, sec_fetch_site="same-origin")) is True
    assert same_origin(_scope(host=host)) is None  # curl, amtool, the CLI
