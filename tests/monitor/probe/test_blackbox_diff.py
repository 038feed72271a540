"""Differential: the embedded probes against the real blackbox_exporter (Debian's 0.23).

Both probe the same servers on 127.0.0.1; every series the embedded probe writes must
also come out of blackbox_exporter's ``/probe`` with the same value (durations aside),
so rules written for one read the other's data the same way.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.monitor.probe.conftest import Certificate, Endpoint
from tests.support.prometheus import free_port
from watchkeeper.monitor.probe import ProbeConfig, Prober
from watchkeeper.monitor.storage import MemoryStorage

COMPARED = ("probe_success", "probe_http_status_code", "probe_ssl_earliest_cert_expiry")

CONFIG = """\
modules:
  http_2xx:
    prober: http
    timeout: 5s
  http_2xx_ca:
    prober: http
    timeout: 5s
    http:
      tls_config: {{ca_file: "{ca}"}}
  http_healthy_body:
    prober: http
    timeout: 5s
    http:
      fail_if_body_not_matches_regexp: ["healthy"]
  tcp_connect:
    prober: tcp
    timeout: 5s
  tcp_tls:
    prober: tcp
    timeout: 5s
    tcp:
      tls: true
      tls_config: {{ca_file: "{ca}"}}
"""


@pytest.fixture(scope="module")
def blackbox(certificate: Certificate, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("prometheus-blackbox-exporter")
    if binary is None:
        pytest.fail("apt-get install -y prometheus-blackbox-exporter (scripts/setup-system.sh)")
    where = tmp_path_factory.mktemp("blackbox")
    config = where / "blackbox.yml"
    config.write_text(CONFIG.format(ca=certificate.cert), encoding="utf-8")
    port = free_port()
    with (where / "log").open("wb") as log:
        process = subprocess.Popen(
            [binary, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_serving(base, process, where / "log")
            yield base
        finally:
            process.terminate()
            process.wait(timeout=15)


def _wait_serving(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            pytest.fail(f"blackbox_exporter exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/metrics", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "blackbox_exporter did not start within 30 s"
        time.sleep(0.1)


def _theirs(base: str, module: str, target: str) -> dict[str, float]:
    text = httpx.get(f"{base}/probe", params={"module": module, "target": target}, timeout=30).text
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("probe_") and not sample.labels
    }


def _ours(config: ProbeConfig) -> dict[str, float]:
    store = MemoryStorage()
    asyncio.run(Prober(store, config).probe())
    return {dict(labels)["__name__"]: values[-1] for labels, (_, values) in store._series.items()}


def _same(base: str, module: str, config: ProbeConfig) -> dict[str, float]:
    ours, theirs = _ours(config), _theirs(base, module, config.target)
    assert set(ours) - {"probe_duration_seconds"} <= set(COMPARED)
    for name in COMPARED:
        assert ours.get(name) == theirs.get(name), (name, ours, theirs)
    assert "probe_duration_seconds" in ours
    assert "probe_duration_seconds" in theirs
    return ours


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.slow
def test_http_answers_like_blackbox(blackbox: str, endpoint: Endpoint, closed_port: int) -> None:
    assert _same(blackbox, "http_2xx", ProbeConfig("w", endpoint.url))["probe_success"] == 1
    endpoint.answer.status = 503
    seen = _same(blackbox, "http_2xx", ProbeConfig("w", endpoint.url))
    assert (seen["probe_success"], seen["probe_http_status_code"]) == (0, 503)
    gone = ProbeConfig("w", f"http://127.0.0.1:{closed_port}/ready")
    assert _same(blackbox, "http_2xx", gone)["probe_http_status_code"] == 0


@pytest.mark.slow
def test_a_body_pattern_like_a_body_regexp(blackbox: str, endpoint: Endpoint) -> None:
    config = ProbeConfig("w", endpoint.url, conditions=("[BODY] == pat(*healthy*)",))
    assert _same(blackbox, "http_healthy_body", config)["probe_success"] == 1
    endpoint.answer.body = b'{"status": "degraded"}'
    assert _same(blackbox, "http_healthy_body", config)["probe_success"] == 0


@pytest.mark.slow
def test_tls_like_blackbox(
    blackbox: str,
    tls_endpoint: Endpoint,
    endpoint: Endpoint,
    certificate: Certificate,
) -> None:
    trusted = ProbeConfig("w", tls_endpoint.url, ca_file=str(certificate.cert))
    seen = _same(blackbox, "http_2xx_ca", trusted)
    assert seen["probe_ssl_earliest_cert_expiry"] == certificate.not_after
    untrusted = _same(blackbox, "http_2xx", ProbeConfig("w", tls_endpoint.url))
    assert "probe_ssl_earliest_cert_expiry" not in untrusted
    # http:// redirecting to https://: both follow it and read the final certificate.
    endpoint.answer.status = 302
    endpoint.answer.headers["Location"] = tls_endpoint.url
    redirected = ProbeConfig("w", endpoint.url, ca_file=str(certificate.cert))
    assert _same(blackbox, "http_2xx_ca", redirected)["probe_http_status_code"] == 200


@pytest.mark.slow
def test_tcp_like_blackbox(
    blackbox: str, tls_endpoint: Endpoint, certificate: Certificate, closed_port: int
) -> None:
    tcp = ProbeConfig("w", tls_endpoint.address, module="tcp")
    assert _same(blackbox, "tcp_connect", tcp)["probe_success"] == 1
    closed = ProbeConfig("w", f"127.0.0.1:{closed_port}", module="tcp")
    assert _same(blackbox, "tcp_connect", closed)["probe_success"] == 0
    tls = ProbeConfig(
        "w", tls_endpoint.address, module="tcp", tls=True, ca_file=str(certificate.cert)
    )
    seen = _same(blackbox, "tcp_tls", tls)
    assert seen["probe_ssl_earliest_cert_expiry"] == certificate.not_after
