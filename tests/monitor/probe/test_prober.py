"""One probe against real servers on 127.0.0.1: the series it appends and the status it
reports as the endpoint answers 200, 503, slowly, with a bad body, or not at all."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.monitor.probe.conftest import Certificate, Endpoint
from watchkeeper.monitor.model import Labels, is_stale_nan, labels_from
from watchkeeper.monitor.probe import ProbeConfig, Prober, ProbeStatus
from watchkeeper.monitor.storage import MemoryStorage


class Clock:
    """Real time at the start, then 15 s per probe: one sample per timestamp, always."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _run(prober: Prober, clock: Clock) -> ProbeStatus:
    clock.now += 15
    return asyncio.run(prober.probe())


def _last(store: MemoryStorage, name: str, **labels: str) -> float | None:
    """The newest value of the one series named ``name`` (None when there is none)."""
    found = [
        vs[-1]
        for ls, (_, vs) in store._series.items()
        if dict(ls).get("__name__") == name and labels.items() <= dict(ls).items()
    ]
    assert len(found) <= 1, found
    return found[0] if found else None


def _labels(name: str, job: str, instance: str, **extra: str) -> Labels:
    return labels_from({"__name__": name, "job": job, "instance": instance, **extra})


def test_200_then_503_then_200_flips_probe_success(endpoint: Endpoint, clock: Clock) -> None:
    store = MemoryStorage()
    config = ProbeConfig("api-health", endpoint.url, labels={"dependency": "api"})
    prober = Prober(store, config, clock=clock)

    status = _run(prober, clock)
    assert (status.health, status.last_error, status.status_code) == ("up", "", 200)
    assert [c.detail for c in status.conditions] == [
        "[STATUS] (200) >= 200",
        "[STATUS] (200) < 300",
    ]
    assert set(store._series) == {
        _labels(n, "api-health", endpoint.url, dependency="api")
        for n in ("probe_success", "probe_duration_seconds", "probe_http_status_code")
    }
    assert _last(store, "probe_success") == 1.0
    assert _last(store, "probe_http_status_code") == 200.0
    duration = _last(store, "probe_duration_seconds")
    assert duration is not None
    assert duration > 0

    endpoint.answer.status = 503
    status = _run(prober, clock)
    assert status.health == "down"
    assert status.last_error == "failed: [STATUS] (503) < 300"
    assert [c.success for c in status.conditions] == [True, False]
    assert (_last(store, "probe_success"), _last(store, "probe_http_status_code")) == (0.0, 503.0)

    endpoint.answer.status = 200
    assert _run(prober, clock).health == "up"
    assert _last(store, "probe_success") == 1.0
    assert endpoint.answer.methods == ["GET", "GET", "GET"]


def test_every_probe_opens_a_fresh_connection(endpoint: Endpoint, clock: Clock) -> None:
    """Like blackbox_exporter: a dead listener is never hidden behind a pooled connection."""
    store = MemoryStorage()
    prober = Prober(store, ProbeConfig("web", endpoint.url), clock=clock)

    async def three() -> None:  # one event loop, so the prober's client is reused
        for _ in range(3):
            clock.now += 15
            assert (await prober.probe()).health == "up"
        await prober.aclose()

    asyncio.run(three())
    assert endpoint.answer.methods == ["GET"] * 3
    assert endpoint.answer.connections == 3


def test_slow_answers_fail_a_response_time_condition(endpoint: Endpoint, clock: Clock) -> None:
    store = MemoryStorage()
    conditions = ("[STATUS] == 200", "[RESPONSE_TIME] < 500ms")
    prober = Prober(store, ProbeConfig("web", endpoint.url, conditions=conditions), clock=clock)
    endpoint.answer.delay_s = 1.0  # the answer cannot arrive sooner than this
    status = _run(prober, clock)
    assert status.health == "down"
    assert [c.success for c in status.conditions] == [True, False]
    assert status.conditions[1].detail.startswith("[RESPONSE_TIME] (")
    assert status.last_error.startswith("failed: [RESPONSE_TIME] (")
    assert _last(store, "probe_success") == 0.0
    duration = _last(store, "probe_duration_seconds")
    assert duration is not None
    assert duration >= 1.0


def test_a_probe_that_outlives_its_timeout_fails(endpoint: Endpoint, clock: Clock) -> None:
    store = MemoryStorage()
    config = ProbeConfig("web", endpoint.url, interval_s=1.0, timeout_s=0.3)
    endpoint.answer.delay_s = 2.0
    status = _run(Prober(store, config, clock=clock), clock)
    assert (status.health, status.last_error) == ("down", "timed out after 0.3s")
    assert (_last(store, "probe_success"), _last(store, "probe_http_status_code")) == (0.0, 0.0)


def test_a_bad_body_fails_the_body_condition(endpoint: Endpoint, clock: Clock) -> None:
    store = MemoryStorage()
    config = ProbeConfig("web", endpoint.url, conditions=('[BODY].status == "healthy"',))
    prober = Prober(store, config, clock=clock)
    assert _run(prober, clock).health == "up"

    endpoint.answer.body = b'{"status": "degraded"}'
    status = _run(prober, clock)
    assert status.last_error == 'failed: [BODY].status (degraded) == "healthy"'
    assert _last(store, "probe_success") == 0.0

    endpoint.answer.body = b"<html>oops</html>"
    status = _run(prober, clock)
    assert status.last_error == 'failed: [BODY].status (body is not JSON) == "healthy"'


def test_method_and_body_limit(endpoint: Endpoint, clock: Clock) -> None:
    store = MemoryStorage()
    head = Prober(store, ProbeConfig("head", endpoint.url, method="HEAD"), clock=clock)
    assert _run(head, clock).health == "up"
    assert endpoint.answer.methods == ["HEAD"]

    endpoint.answer.body = b"x" * 2048
    small = Prober(store, ProbeConfig("small", endpoint.url, body_limit_bytes=1024), clock=clock)
    status = _run(small, clock)
    assert status.last_error == "body larger than 1024 bytes (body_limit_bytes)"
    assert _last(store, "probe_success", job="small") == 0.0


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens there any more


def test_connection_refused(closed_port: int, clock: Clock) -> None:
    store = MemoryStorage()
    url = f"http://127.0.0.1:{closed_port}/ready"
    status = _run(Prober(store, ProbeConfig("gone", url), clock=clock), clock)
    assert status.health == "down"
    assert status.last_error.startswith("ConnectError: ")
    assert next(c.detail for c in status.conditions) == "[STATUS] (no response) >= 200"
    assert (_last(store, "probe_success"), _last(store, "probe_http_status_code")) == (0.0, 0.0)


@pytest.fixture
def listener() -> Iterator[int]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


def test_tcp_connect_to_an_open_and_a_closed_port(
    listener: int, closed_port: int, clock: Clock
) -> None:
    store = MemoryStorage()
    open_probe = ProbeConfig("db", f"127.0.0.1:{listener}", module="tcp")
    status = _run(Prober(store, open_probe, clock=clock), clock)
    assert (status.health, status.url, status.instance) == (
        "up",
        f"tcp://127.0.0.1:{listener}",
        f"127.0.0.1:{listener}",
    )
    assert [c.detail for c in status.conditions] == ["[CONNECTED] (true) == true"]
    assert _last(store, "probe_success", instance=f"127.0.0.1:{listener}") == 1.0
    # tcp probes have no HTTP status series, like blackbox_exporter's tcp_connect.
    assert _last(store, "probe_http_status_code") is None

    closed = ProbeConfig("db", f"127.0.0.1:{closed_port}", module="tcp")
    status = _run(Prober(store, closed, clock=clock), clock)
    assert status.health == "down"
    assert status.last_error.startswith("ConnectionRefusedError: ")
    assert _last(store, "probe_success", instance=f"127.0.0.1:{closed_port}") == 0.0


def _cert_series(store: MemoryStorage) -> list[float]:
    return [
        v
        for ls, (_, vs) in store._series.items()
        if dict(ls)["__name__"] == "probe_ssl_earliest_cert_expiry"
        for v in vs
    ]


def test_tls_certificate_expiry(
    tls_endpoint: Endpoint, certificate: Certificate, clock: Clock
) -> None:
    store = MemoryStorage()
    conditions = ("[STATUS] == 200", "[CERTIFICATE_EXPIRATION] > 48h")
    config = ProbeConfig(
        "tls", tls_endpoint.url, conditions=conditions, ca_file=str(certificate.cert)
    )
    status = _run(Prober(store, config, clock=clock), clock)
    assert status.health == "up", status.last_error
    assert status.cert_not_after == certificate.not_after
    assert _last(store, "probe_ssl_earliest_cert_expiry") == certificate.not_after

    # The certificate is valid for 3 days: a 4-day requirement fails, and says so.
    strict = ProbeConfig(
        "strict", tls_endpoint.url, conditions=("[CERTIFICATE_EXPIRATION] > 96h",),
        ca_file=str(certificate.cert),
    )  # fmt: skip
    status = _run(Prober(store, strict, clock=clock), clock)
    assert status.health == "down"
    left_ms = round((certificate.not_after - clock.now) * 1000)
    assert status.last_error == f"failed: [CERTIFICATE_EXPIRATION] ({left_ms}) > 96h"


def test_an_untrusted_certificate_fails_unless_verification_is_skipped(
    tls_endpoint: Endpoint, certificate: Certificate, clock: Clock
) -> None:
    store = MemoryStorage()
    status = _run(Prober(store, ProbeConfig("tls", tls_endpoint.url), clock=clock), clock)
    assert status.health == "down"
    assert "CERTIFICATE_VERIFY_FAILED" in status.last_error
    assert _cert_series(store) == []  # no handshake, no certificate series

    skip = ProbeConfig("skip", tls_endpoint.url, insecure_skip_verify=True)
    status = _run(Prober(store, skip, clock=clock), clock)
    assert status.health == "up"
    assert _cert_series(store) == [certificate.not_after]


def test_redirects_are_followed_to_the_certificate(
    endpoint: Endpoint, tls_endpoint: Endpoint, certificate: Certificate, clock: Clock
) -> None:
    """An http:// URL redirecting to https:// reports the final status and certificate."""
    endpoint.answer.status = 302
    endpoint.answer.headers["Location"] = tls_endpoint.url
    store = MemoryStorage()
    config = ProbeConfig("web", endpoint.url, ca_file=str(certificate.cert))
    status = _run(Prober(store, config, clock=clock), clock)
    assert (status.health, status.status_code) == ("up", 200)
    assert (endpoint.answer.methods, tls_endpoint.answer.methods) == (["GET"], ["GET"])
    assert _last(store, "probe_ssl_earliest_cert_expiry") == certificate.not_after


def test_tcp_with_tls_reads_the_certificate(
    tls_endpoint: Endpoint, certificate: Certificate, clock: Clock
) -> None:
    store = MemoryStorage()
    config = ProbeConfig(
        "tls", tls_endpoint.address, module="tcp", tls=True, ca_file=str(certificate.cert),
        conditions=("[CONNECTED] == true", "[CERTIFICATE_EXPIRATION] > 1d"),
    )  # fmt: skip
    status = _run(Prober(store, config, clock=clock), clock)
    assert status.health == "up", status.last_error
    assert _last(store, "probe_ssl_earliest_cert_expiry") == certificate.not_after


def test_a_vanished_certificate_series_goes_stale(
    tls_endpoint: Endpoint, certificate: Certificate, clock: Clock
) -> None:
    store = MemoryStorage()
    config = ProbeConfig("tls", tls_endpoint.url, ca_file=str(certificate.cert))
    prober = Prober(store, config, clock=clock)
    assert _run(prober, clock).health == "up"
    prober.configure(ProbeConfig("tls", tls_endpoint.url))  # now the cert is untrusted
    assert _run(prober, clock).health == "down"
    values = _cert_series(store)
    assert values[0] == certificate.not_after
    assert len(values) == 2
    assert is_stale_nan(values[1])


def test_status_changes_are_logged_once(
    endpoint: Endpoint, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="watchkeeper.monitor.probe")
    prober = Prober(MemoryStorage(), ProbeConfig("web", endpoint.url), clock=clock)
    _run(prober, clock)
    endpoint.answer.status = 500
    _run(prober, clock)
    _run(prober, clock)
    # Only the prober's own lines: another test may have left httpx logging at INFO.
    messages: list[Any] = [
        r.getMessage() for r in caplog.records if r.name.startswith("watchkeeper.monitor.probe")
    ]
    assert messages == [
        f"probe {endpoint.url} (job web) succeeded",
        f"probe {endpoint.url} (job web) failed: [STATUS] (500) < 300",
    ]
