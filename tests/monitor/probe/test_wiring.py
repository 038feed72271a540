"""How server.py wires probes: from the spec, per target, with conditions, into the
targets API, and started and stopped with the monitor's lifespan."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from tests.monitor.probe.conftest import Endpoint
from watchkeeper.errors import ConfigurationError, SpecError
from watchkeeper.monitor.model import Matcher
from watchkeeper.monitor.probe import ProbeConfig
from watchkeeper.monitor.server import (
    Monitor,
    MonitorConfig,
    ScrapeTarget,
    load_probes,
    load_targets,
)
from watchkeeper.monitor.storage import open_storage

SPEC = """\
service: shop
scrape_interval: 30s
targets:
  - 127.0.0.1:8000
kubernetes:
  readiness_path: /readyz
dependencies:
  - {kind: postgres, name: db}
  - {kind: http, name: payments, url: "https://payments.example.com/health"}
"""


def test_spec_http_dependencies_become_blackbox_like_probes(tmp_path: Path) -> None:
    spec = tmp_path / "watchkeeper.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    (probe,) = load_probes(spec)
    assert probe.key == ("shop-payments", "https://payments.example.com/health")
    assert probe.target_labels() == {
        "job": "shop-payments",
        "instance": "https://payments.example.com/health",
        "dependency": "payments",
    }
    assert (probe.interval_s, probe.timeout_s) == (30.0, 10.0)
    _, (target,) = load_targets(spec)
    assert target.health_path == "/readyz"  # the spec's readiness path


def test_a_bad_spec_names_the_line(tmp_path: Path) -> None:
    spec = tmp_path / "watchkeeper.yaml"
    spec.write_text(SPEC.replace('"https://payments', '"ftp://payments'), encoding="utf-8")
    with pytest.raises(SpecError, match=r"watchkeeper.yaml:9"):
        load_probes(spec)


def _monitor(tmp_path: Path, **kw: object) -> Monitor:
    return Monitor(MonitorConfig(data_dir=tmp_path / "data", **kw))  # type: ignore[arg-type]


def test_every_target_gets_a_readiness_probe_unless_told_not_to(tmp_path: Path) -> None:
    targets = [
        ScrapeTarget("api", "http://127.0.0.1:1/metrics", 5.0),
        ScrapeTarget("api", "http://127.0.0.1:2/metrics", 5.0),
        ScrapeTarget("quiet", "http://127.0.0.1:3/metrics", health_path=None),
    ]
    monitor = _monitor(tmp_path, targets=targets)
    try:
        assert monitor.probes is not None
        assert [(s.job, s.url, s.interval_s) for s in monitor.probes.status()] == [
            ("api-health", "http://127.0.0.1:1/ready", 5.0),
            ("api-health", "http://127.0.0.1:2/ready", 5.0),
        ]
    finally:
        monitor.store.close()


def test_probe_conditions_apply_by_job_and_are_checked(tmp_path: Path) -> None:
    targets = [ScrapeTarget("api", "http://127.0.0.1:1/metrics")]
    conditions = {"api-health": ["[STATUS] == 200", '[BODY].status == "ready"']}
    monitor = _monitor(tmp_path / "a", targets=targets, probe_conditions=conditions)
    try:
        assert monitor.probes is not None
        (status,) = monitor.probes.status()
        assert [p.config.conditions for p in monitor.probes.probers()] == [
            ("[STATUS] == 200", '[BODY].status == "ready"')
        ]
        assert status.job == "api-health"
    finally:
        monitor.store.close()
    with pytest.raises(ConfigurationError, match=r"conditions\[0\]: condition '\[STATUS\] = 1'"):
        _monitor(tmp_path / "b", targets=targets, probe_conditions={"api-health": ["[STATUS] = 1"]})
    with pytest.raises(
        ConfigurationError, match="no probe has that job; probe jobs are: api-health"
    ):
        _monitor(tmp_path / "c", targets=targets, probe_conditions={"web": ["[STATUS] == 1"]})


def test_duplicate_probes_are_a_configuration_error(tmp_path: Path) -> None:
    probe = ProbeConfig("site", "http://127.0.0.1:1/")
    with pytest.raises(ConfigurationError, match="duplicate probes"):
        _monitor(tmp_path, probes=[probe, probe])
    # The store it opened was released: opening the same directory again works.
    _monitor(tmp_path).store.close()


def test_lifespan_runs_probes_and_the_targets_api_lists_them(
    tmp_path: Path, endpoint: Endpoint
) -> None:
    probe = ProbeConfig("site", endpoint.url, interval_s=1.0, timeout_s=1.0)
    monitor = _monitor(tmp_path, probes=[probe])

    async def go() -> list[dict[str, object]]:
        await monitor.start()
        deadline = time.monotonic() + 20
        while not any(s.health == "up" for s in monitor.target_status()):
            assert time.monotonic() < deadline, "the probe never ran"
            await asyncio.sleep(0.05)
        transport = httpx.ASGITransport(app=monitor.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            answer = await client.get("/api/v1/targets")
        targets: list[dict[str, object]] = answer.json()["data"]["activeTargets"]
        await monitor.stop()
        return targets

    (target,) = asyncio.run(go())
    assert target["scrapePool"] == "site"
    assert target["health"] == "up"
    assert target["scrapeInterval"] == "1s"
    assert target["probe"] == {
        "module": "http",
        "conditions": [
            {"condition": "[STATUS] >= 200", "success": True, "detail": "[STATUS] (200) >= 200"},
            {"condition": "[STATUS] < 300", "success": True, "detail": "[STATUS] (200) < 300"},
        ],
        "statusCode": 200,
        "certificateExpiry": None,
    }
    assert monitor.closed
    # stop() committed the probe's samples before closing the store.
    store = open_storage(tmp_path / "data")
    try:
        success = [Matcher.of("__name__", "=", "probe_success")]
        assert [s.values[-1] for s in store.select(success, 0, 2**62)] == [1.0]
    finally:
        store.close()
