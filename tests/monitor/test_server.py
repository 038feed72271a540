"""The composition root: ``watchkeeper up`` as a real process, auth, limits, spec targets."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from tests.support.asgi import ASGIClient
from tests.support.prometheus import (
    PrometheusUnavailable,
    prometheus_binaries,
)
from tests.support.watchkeeper import watchkeeper_up
from watchkeeper.cli import monitor_cmds
from watchkeeper.errors import ConfigurationError, SpecError
from watchkeeper.monitor.server import (
    Monitor,
    MonitorConfig,
    ScrapeTarget,
    load_targets,
    parse_listen,
    resolve_token,
)
from watchkeeper.monitor.storage import import_openmetrics, open_storage

OPENMETRICS = """\
# TYPE http_requests counter
http_requests_total{code="200"} 0 1700000000.500
http_requests_total{code="200"} 30 1700000030.500
http_requests_total{code="200"} 60 1700000060.500
http_requests_total{code="200"} 90 1700000090.500
# EOF
"""
EXPOSITION = b"# TYPE demo_hits counter\ndemo_hits_total 7\n"


class _MetricsHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(EXPOSITION)))
        self.end_headers()
        self.wfile.write(EXPOSITION)

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""


@pytest.fixture
def metrics_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _MetricsHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/metrics"
    finally:
        server.shutdown()
        server.server_close()


def _stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=30)


@pytest.mark.slow
def test_up_serves_imported_data_like_prometheus(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    tsdb = open_storage(data_dir)
    import_openmetrics(OPENMETRICS, tsdb)
    tsdb.close()
    with watchkeeper_up(data_dir) as (url, process):
        params = {
            "query": "rate(http_requests_total[1m])",
            "start": "1700000060",
            "end": "1700000090",
            "step": "15s",
        }
        body = httpx.get(f"{url}/api/v1/query_range", params=params).json()
        # The data dir is locked by the server: 'watchkeeper query' asks it over HTTP.
        args = ["--start", "1700000060", "--end", "1700000090", "--step", "15s"]
        remote = CliRunner().invoke(monitor_cmds.query, ["--url", url, *args, params["query"]])
        local = CliRunner().invoke(
            monitor_cmds.query, ["--data-dir", str(data_dir), *args, params["query"]]
        )
        assert _stop(process) == 0
    assert remote.exit_code == 0, remote.output
    assert '{code="200"}' in remote.output
    assert "0.9916666666666666" in remote.output
    assert local.exit_code == 1
    assert "in use by another process" in local.output
    assert body["status"] == "success"
    (series,) = body["data"]["result"]
    assert series["metric"] == {"code": "200"}
    # At :60 the window's first sample is 0, so rate() does not extrapolate before it.
    assert series["values"] == [
        [1700000060, "0.9916666666666666"],
        [1700000075, "1"],
        [1700000090, "1"],
    ]


@pytest.mark.slow
def test_up_scrapes_spec_targets_and_keeps_data_after_sigterm(
    tmp_path: Path, metrics_server: str
) -> None:
    data_dir = tmp_path / "data"
    spec = tmp_path / "watchkeeper.yaml"
    address = metrics_server.split("/")[2]
    spec.write_text(f"service: demo\nscrape_interval: 1s\ntargets:\n  - {address}\n")
    with watchkeeper_up(data_dir, "-f", str(spec)) as (url, process):
        deadline = time.monotonic() + 30
        result: list[dict[str, object]] = []
        while not result and time.monotonic() < deadline:
            query = httpx.get(f"{url}/api/v1/query", params={"query": "demo_hits_total"}).json()
            result = query["data"]["result"]
            time.sleep(0.2)
        assert result, "no scrape landed within 30 s"
        targets = httpx.get(f"{url}/api/v1/targets").json()["data"]["activeTargets"]
        own_metrics = httpx.get(f"{url}/metrics").text
        synthetic = httpx.get(
            f"{url}/api/v1/query",
            params={"query": 'up{job="demo"} + scrape_samples_scraped{job="demo"}'},
        ).json()["data"]["result"]
        assert _stop(process) == 0
    assert [s["value"][1] for s in synthetic] == ["2"]  # up 1 + one sample scraped
    assert result[0]["metric"] == {
        "__name__": "demo_hits_total",
        "instance": metrics_server.split("/")[2],
        "job": "demo",
    }
    scraped = [(t["scrapePool"], t["health"]) for t in targets if t["scrapePool"] == "demo"]
    assert scraped == [("demo", "up")]  # the readiness probe is pool demo-health
    assert "watchkeeper_tsdb_samples_appended_total" in own_metrics
    assert "watchkeeper_tsdb_series" in own_metrics
    # Shutdown committed what was scraped: a fresh open sees it.
    tsdb = open_storage(data_dir)
    try:
        assert "demo_hits_total" in tsdb.label_values("__name__")
    finally:
        tsdb.close()


@pytest.fixture
def monitor(tmp_path: Path) -> Iterator[Monitor]:
    config = MonitorConfig(data_dir=tmp_path / "data", host="0.0.0.0", token="s3cret")
    m = Monitor(config)
    try:
        yield m
    finally:
        m.store.close()


def test_token_required_off_loopback(monitor: Monitor) -> None:
    client = ASGIClient(monitor.app)
    denied = client.get("/api/v1/labels")
    assert denied.status_code == 401
    assert denied.json()["status"] == "error"
    assert denied.headers["www-authenticate"].startswith("Bearer")
    assert (
        client.get("/api/v1/labels", headers={"Authorization": "Bearer wrong"}).status_code == 401
    )
    assert (
        client.get("/api/v1/labels", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    )
    assert client.get("/api/v1/labels?token=s3cret").status_code == 200
    # Probes stay open: they reveal nothing.
    assert client.get("/-/healthy").status_code == 200


def test_requests_are_bounded(monitor: Monitor) -> None:
    client = ASGIClient(monitor.app)
    auth = {"Authorization": "Bearer s3cret"}
    body = {"query": "y" * (2 << 20)}
    assert client.post("/api/v1/query", data=body, headers=auth).status_code == 413


def test_bad_targets_are_a_configuration_error(tmp_path: Path) -> None:
    target = ScrapeTarget("api", "http://127.0.0.1:1/metrics")
    config = MonitorConfig(data_dir=tmp_path / "data", targets=[target, target])
    with pytest.raises(ConfigurationError, match="scrape targets: duplicate"):
        Monitor(config)


def test_refuses_non_loopback_without_token(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="without a token"):
        Monitor(MonitorConfig(data_dir=tmp_path, host="192.0.2.1"))


@pytest.mark.parametrize(
    ("host", "token", "enforced", "generated"),
    [
        ("127.0.0.1", None, False, False),
        ("::1", None, False, False),
        ("localhost", "t", True, False),
        ("0.0.0.0", None, True, True),
        ("10.1.2.3", "t", True, False),
    ],
)
def test_resolve_token(host: str, token: str | None, enforced: bool, generated: bool) -> None:
    got, was_generated = resolve_token(host, token)
    assert (got is not None) is enforced
    assert was_generated is generated


def test_parse_listen() -> None:
    assert parse_listen("127.0.0.1:9099") == ("127.0.0.1", 9099)
    assert parse_listen("[::1]:80") == ("::1", 80)
    for bad in ("9099", "host:", "h:99999", ":80"):
        with pytest.raises(ConfigurationError, match="HOST:PORT"):
            parse_listen(bad)


def test_load_targets_from_the_spec(tmp_path: Path) -> None:
    spec = tmp_path / "watchkeeper.yaml"
    spec.write_text(
        "service: checkout\n"
        "scrape_interval: 30s\n"
        "targets:\n"
        "  - 127.0.0.1:8000\n"
        "  - 127.0.0.1:8001\n",
        encoding="utf-8",
    )
    name, targets = load_targets(spec)
    assert name == "checkout"
    assert targets == [
        ScrapeTarget("checkout", "http://127.0.0.1:8000/metrics", 30.0),
        ScrapeTarget("checkout", "http://127.0.0.1:8001/metrics", 30.0),
    ]
    spec.write_text("service: x\ntargets:\n  - no-port\n", encoding="utf-8")
    with pytest.raises(SpecError, match=r"watchkeeper.yaml:2: targets must be host:port"):
        load_targets(spec)


def test_query_limits_from_the_config(tmp_path: Path) -> None:
    config = MonitorConfig(data_dir=tmp_path / "data", query_max_samples=2)
    m = Monitor(config)
    try:
        import_openmetrics(OPENMETRICS, m.store)
        m.store.commit()
        client = ASGIClient(m.app)
        params = {"query": "rate(http_requests_total[5m])", "time": "1700000100"}
        r = client.get("/api/v1/query", params=params)
        assert r.status_code == 422
        assert r.json()["errorType"] == "execution"
        assert "too many samples" in r.json()["error"]
    finally:
        m.store.close()


def test_own_metrics_pass_promtool_lint(tmp_path: Path) -> None:
    try:
        _, promtool = prometheus_binaries()
    except PrometheusUnavailable as exc:
        pytest.skip(str(exc))
    m = Monitor(MonitorConfig(data_dir=tmp_path / "data"))
    try:
        client = ASGIClient(m.app)
        client.get("/api/v1/query", params={"query": "1"})
        client.get("/api/v1/query", params={"query": "sum(("})
        text = client.get("/metrics").text
    finally:
        m.store.close()
    assert "watchkeeper_tsdb_samples_appended_total" in text
    assert 'watchkeeper_query_errors_total{endpoint="query",error_type="bad_data"} 1.0' in text
    lint = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_stop_closes_the_store_even_if_scraping_fails(tmp_path: Path) -> None:
    class BrokenScrapes:
        async def stop(self) -> None:
            raise RuntimeError("boom")

    m = Monitor(MonitorConfig(data_dir=tmp_path / "data"))
    m.scrapes = BrokenScrapes()  # type: ignore[assignment]
    asyncio.run(m.stop())
    assert m.closed
    reopened = open_storage(tmp_path / "data")  # the lock was released
    reopened.close()


def test_large_answers_are_gzipped_when_accepted(tmp_path: Path) -> None:
    m = Monitor(MonitorConfig(data_dir=tmp_path / "data"))
    try:
        for i in range(2000):
            m.store.append((("__name__", "many"), ("i", str(i))), 1_700_000_000_000, float(i))
        m.store.commit()
        client = ASGIClient(m.app)
        params = {"query": "many", "time": "1700000001"}
        zipped = client.get("/api/v1/query", params=params, headers={"Accept-Encoding": "gzip"})
        plain = client.get("/api/v1/query", params=params, headers={"Accept-Encoding": "identity"})
    finally:
        m.store.close()
    assert zipped.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    assert zipped.json() == plain.json()
    assert len(zipped.json()["data"]["result"]) == 2000


def test_pages_mount_next_to_the_api_behind_the_same_auth(tmp_path: Path) -> None:
    async def hello(request: Request) -> Response:
        return PlainTextResponse("hello")

    config = MonitorConfig(data_dir=tmp_path / "data", host="0.0.0.0", token="t")
    m = Monitor(config, pages=lambda deps: [Route("/console", hello)])
    try:
        client = ASGIClient(m.app)
        assert client.get("/console").status_code == 401
        assert client.get("/console?token=t").text == "hello"
        assert client.get("/api/v1/labels?token=t").status_code == 200
    finally:
        m.store.close()
