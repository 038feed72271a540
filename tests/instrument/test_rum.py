"""The RUM beacon endpoint: what it accepts, and the abuse it refuses, over real HTTP.

A real uvicorn process serves tests/instrument/servers/rum_app.py; every test acts
as its own client (X-Forwarded-For, trusted by that app) so the rate limit of one
does not spill into another. A WSGI app behind wsgiref checks the WSGI adapter.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx
import orjson
import pytest

from tests.instrument.conftest import parse, value
from tests.instrument.servers import free_port, serve
from tests.instrument.servers.promtool import promtool_problems
from tests.instrument.servers.rum_app import BURST
from watchkeeper.errors import ConfigurationError
from watchkeeper.instrument.api import instrument
from watchkeeper.instrument.exposition import render
from watchkeeper.instrument.registry import Registry
from watchkeeper.instrument.rum import RUM, RUMEndpoint

BEACON = "/_watchkeeper/rum"
_clients = itertools.count(1)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    port = free_port()
    argv = ["uvicorn", "tests.instrument.servers.rum_app:app", "--port", str(port),
            "--host", "127.0.0.1", "--log-level", "warning"]  # fmt: skip
    with serve(argv, port):
        yield f"http://127.0.0.1:{port}"


def _client_headers(**extra: str) -> dict[str, str]:
    return {"x-forwarded-for": f"10.0.0.{next(_clients)}", **extra}


def _post(base: str, body: Any, **headers: str) -> httpx.Response:
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    hdrs = _client_headers(**{"content-type": "application/json", **headers})
    return httpx.post(f"{base}{BEACON}", content=data, headers=hdrs, timeout=10)


def _rum_samples(base: str) -> Samples:
    text = httpx.get(f"{base}/metrics", timeout=10).text
    return {k: v for k, v in parse(text).items() if k[0].startswith("rum_")}


def _get(samples: Samples, name: str, **labels: str) -> float:
    want = set(labels.items())
    found = [v for (n, lab), v in samples.items() if n == name and want <= lab]
    assert len(found) == 1, (name, labels, found)
    return found[0]


def test_script_is_served_with_its_endpoint(base: str) -> None:
    response = httpx.get(f"{base}/_watchkeeper/rum.js", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert f'var endpoint = "{BEACON}";' in response.text
    assert "__WATCHKEEPER" not in response.text
    assert httpx.post(f"{base}/_watchkeeper/rum.js", timeout=10).status_code == 405


def test_a_valid_beacon_is_recorded_by_route_template(base: str) -> None:
    before = _rum_samples(base)
    response = _post(base, {"v": 1, "page": "/products/42", "load": 1.2, "ttfb": 0.1,
                            "api": [0.05, 0.2]})  # fmt: skip
    assert response.status_code == 204
    after = _rum_samples(base)
    count = "rum_page_load_duration_seconds_count"
    page = {"page": "/products/{id}"}
    assert _get(after, count, **page) == _get(before, count, **page) + 1
    api = "rum_api_call_duration_seconds_count"
    assert _get(after, api, **page) == _get(before, api, **page) + 2
    ttfb = "rum_time_to_first_byte_seconds_sum"
    assert _get(after, ttfb, **page) == pytest.approx(_get(before, ttfb, **page) + 0.1)


def test_unlisted_pages_fold_into_one_value_and_add_no_series(base: str) -> None:
    before = _rum_samples(base)
    for path in ("/admin/secret", "/products/1/reviews", "/products/{id}/x", "/" + "a" * 1000):
        assert _post(base, {"v": 1, "page": path, "load": 0.5}).status_code == 204
    after = _rum_samples(base)
    assert set(after) == set(before)  # the same series: values moved, none was added
    count = "rum_page_load_duration_seconds_count"
    assert _get(after, count, page="_other") == _get(before, count, page="_other") + 4
    text = httpx.get(f"{base}/metrics", timeout=10).text
    assert "admin" not in text
    assert "reviews" not in text


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        ({"v": 1, "page": "/", "load": 1, "cookie": "x"}, "unknown field"),
        ({"page": "/", "load": 1}, "v must be 1"),
        ({"v": True, "page": "/", "load": 1}, "v must be 1"),
        ({"v": 1, "page": "products", "load": 1}, "page must be"),
        ({"v": 1, "page": "/", "load": "fast"}, "load must be a number"),
        ({"v": 1, "page": "/", "load": -1}, "between 0 and 600"),
        ({"v": 1, "page": "/", "load": 1e9}, "between 0 and 600"),
        ({"v": 1, "page": "/", "api": [0.1] * 51}, "at most 50"),
        ({"v": 1, "page": "/", "api": [0.1, None]}, "api must be a number"),
        ({"v": 1, "page": "/", "api": [0.1, "x"]}, "api must be a number"),
        ({"v": 1, "page": "/"}, "nothing to record"),
        (b"NaN", "JSON"),
    ],
)
def test_malformed_beacons_are_400_and_record_nothing(base: str, body: Any, why: str) -> None:
    before = _rum_samples(base)
    response = _post(base, body)
    assert response.status_code == 400
    assert why in response.json()["error"]
    after = _rum_samples(base)
    changed = {k for k in after if after[k] != before.get(k)}
    assert changed == {("rum_beacons_total", frozenset({("result", "malformed")}))}


def test_wrong_method_and_content_type(base: str) -> None:
    response = httpx.get(f"{base}{BEACON}", headers=_client_headers(), timeout=10)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    response = _post(base, b"v=1", **{"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 415
    # sendBeacon's text/plain is fine
    assert (
        _post(base, {"v": 1, "page": "/", "load": 1}, **{"content-type": "text/plain"}).status_code
        == 204
    )
    samples = _rum_samples(base)
    assert _get(samples, "rum_beacons_total", result="bad_method") >= 1
    assert _get(samples, "rum_beacons_total", result="bad_content_type") >= 1


def test_oversize_bodies_are_413_declared_or_streamed(base: str) -> None:
    big = orjson.dumps({"v": 1, "page": "/" + "x" * 5000, "load": 1})
    assert _post(base, big).status_code == 413

    def chunks() -> Iterator[bytes]:  # no content-length: the server must stop reading
        for _ in range(100):
            yield b" " * 1000

    response = httpx.post(
        f"{base}{BEACON}", content=chunks(), timeout=10,
        headers=_client_headers(**{"content-type": "application/json"}),
    )  # fmt: skip
    assert response.status_code == 413
    assert _get(_rum_samples(base), "rum_beacons_total", result="too_large") >= 2


def test_rate_limit_per_client(base: str) -> None:
    headers = _client_headers(**{"content-type": "application/json"})
    body = orjson.dumps({"v": 1, "page": "/", "load": 1})
    codes = [
        httpx.post(f"{base}{BEACON}", content=body, headers=headers, timeout=10).status_code
        for _ in range(BURST + 2)
    ]
    assert codes == [204] * BURST + [429, 429]
    # another client is not affected
    assert _post(base, {"v": 1, "page": "/", "load": 1}).status_code == 204
    assert _get(_rum_samples(base), "rum_beacons_total", result="rate_limited") >= 2


def test_metric_names_pass_promtool(base: str) -> None:
    text = httpx.get(f"{base}/metrics", timeout=10).text
    rum = "\n".join(line for line in text.splitlines() if "rum_" in line) + "\n"
    assert "rum_page_load_duration_seconds_bucket" in rum
    assert promtool_problems(rum) == ""


# -- in-process: the WSGI adapter, matching, bounds, options ----------------------------
def _wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("content-type", "text/plain")])
    return [b"app"]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_wsgi_apps_get_the_same_endpoint(registry: Registry) -> None:
    app = instrument(_wsgi_app, rum=["/", "/docs/{rest:path}"], registry=registry, health=False)
    server = make_server("127.0.0.1", 0, app, WSGIServer, _QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        beacon = {"v": 1, "page": "/docs/a/b/c", "load": 0.3, "api": [0.01]}
        ok = httpx.post(f"{base}{BEACON}", content=orjson.dumps(beacon), timeout=10,
                        headers={"content-type": "application/json"})  # fmt: skip
        bad = httpx.post(f"{base}{BEACON}", content=b"{", timeout=10,
                         headers={"content-type": "application/json"})  # fmt: skip
        big = httpx.post(f"{base}{BEACON}", content=b"x" * 5000, timeout=10,
                         headers={"content-type": "application/json"})  # fmt: skip
        script = httpx.get(f"{base}/_watchkeeper/rum.js", timeout=10)
        assert httpx.get(f"{base}/other", timeout=10).text == "app"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert (ok.status_code, bad.status_code, big.status_code) == (204, 400, 413)
    assert script.status_code == 200
    count = "rum_page_load_duration_seconds_count"
    assert value(registry, count, page="/docs/{rest:path}") == 1


def test_route_matching() -> None:
    endpoint = RUMEndpoint(RUM(pages=["/", "/products/{id}", "/docs/{rest:path}"]), Registry())
    assert endpoint.page_route("/") == "/"
    assert endpoint.page_route("/products/9") == "/products/{id}"
    assert endpoint.page_route("/products/9/x") == "_other"
    assert endpoint.page_route("/products/") == "_other"
    assert endpoint.page_route("/docs/a/b") == "/docs/{rest:path}"
    assert endpoint.page_route("/elsewhere") == "_other"


def test_rate_limiter_remembers_a_bounded_number_of_clients() -> None:
    endpoint = RUMEndpoint(RUM(pages=["/"], burst=1, rate=0.001, max_clients=3), Registry())
    limiter = endpoint.limiter
    assert [limiter.allow(c) for c in ("a", "b", "c", "a")] == [True, True, True, False]
    limiter.allow("d")  # "b" (least recent) is forgotten
    assert len(limiter.buckets) == 3
    assert "b" not in limiter.buckets
    # X-Forwarded-For counts only when trusted
    assert endpoint.client_of("127.0.0.1", "6.6.6.6") == "127.0.0.1"


def test_options_are_checked_with_the_fix_named(registry: Registry) -> None:
    with pytest.raises(ConfigurationError, match=r"non-empty list of route templates"):
        RUM.of("/")  # a string, not a list
    with pytest.raises(ConfigurationError, match=r"'products' must be a path"):
        RUM.of(["products"])
    with pytest.raises(ConfigurationError, match=r"max_body must be 64..1000000"):
        RUM.of(RUM(pages=["/"], max_body=10))
    with pytest.raises(ConfigurationError, match=r"already served by watchkeeper"):
        instrument(_wsgi_app, rum=RUM(pages=["/"], path="/metrics"), registry=registry)


def test_every_series_exists_before_any_beacon(registry: Registry) -> None:
    RUMEndpoint(RUM(pages=["/", "/a"]), registry)
    text = render(registry)
    for page in ("/", "/a", "_other"):
        assert value(registry, "rum_page_load_duration_seconds_count", page=page) == 0
    assert text.count("rum_beacons_total{") == 6
