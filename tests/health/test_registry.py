"""Running an app's checks together: verdicts, concurrency and metrics."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.instrument.conftest import value
from watchkeeper import health
from watchkeeper.errors import ConfigurationError
from watchkeeper.health import HealthRegistry
from watchkeeper.instrument.registry import Registry


def fail() -> None:
    raise RuntimeError("down")


def test_verdicts(registry: Registry) -> None:
    ok = HealthRegistry([health.Check(lambda: True, name="a")], registry=registry)
    assert ok.run().status == "healthy"
    degraded = HealthRegistry(registry=registry)
    degraded.add_check(lambda: True, name="db")
    degraded.add_check(fail, name="cache", critical=False)
    report = degraded.run()
    assert report.status == "degraded"
    assert report.ready
    degraded.add_check(fail, name="db2")
    report = degraded.run()
    assert report.status == "unhealthy"
    assert not report.ready
    assert [r.name for r in degraded.run(critical_only=True).results] == ["db", "db2"]


def test_checks_run_concurrently_sync_and_async(registry: Registry) -> None:
    checks = HealthRegistry(registry=registry)
    for i in range(4):
        checks.add_check(lambda: time.sleep(0.5), name=f"sync{i}", cache=0)

    async def nap() -> None:
        await asyncio.sleep(0.5)

    for i in range(4):
        checks.add_check(nap, name=f"async{i}", cache=0)
    start = time.monotonic()
    assert checks.run().status == "healthy"
    assert time.monotonic() - start < 1.5  # 8 x 0.5 s in sequence would be 4 s

    async def main() -> float:
        begin = time.monotonic()
        assert (await checks.run_async()).status == "healthy"
        return time.monotonic() - begin

    assert asyncio.run(main()) < 1.5


def test_metrics(registry: Registry) -> None:
    checks = HealthRegistry(registry=registry)
    checks.add_check(lambda: True, name="db")
    checks.add_check(fail, name="cache", critical=False)
    checks.run()
    assert value(registry, "watchkeeper_health_check_status", check="db", critical="true") == 1
    assert value(registry, "watchkeeper_health_check_status", check="cache", critical="false") == 0
    assert value(registry, "watchkeeper_health_check_duration_seconds", check="db") >= 0
    assert value(registry, "watchkeeper_health_check_last_success_timestamp_seconds", check="db")


def test_process_wide_checks_join_every_app_registry(registry: Registry) -> None:
    @health.check("payments", critical=False)
    def payments() -> bool:
        return False

    @health.check
    async def queue() -> None:
        return None

    app_checks = HealthRegistry(registry=registry, parent=health.DEFAULT)
    app_checks.add_check(lambda: True, name="db")
    report = app_checks.run()
    assert {r.name: r.ok for r in report.results} == {"payments": False, "queue": True, "db": True}
    assert report.status == "degraded"


def test_duplicate_names_are_refused(registry: Registry) -> None:
    checks = HealthRegistry(registry=registry)
    checks.add_check(print, name="db")
    with pytest.raises(ConfigurationError, match="already registered"):
        checks.add_check(print, name="db")


def test_report_json_shape(registry: Registry) -> None:
    import orjson

    checks = HealthRegistry(registry=registry)
    checks.add_check(fail, name="db")
    body = orjson.loads(checks.run().to_json())
    assert body["status"] == "unhealthy"
    db = body["checks"]["db"]
    assert db["status"] == "fail"
    assert db["critical"] is True
    assert db["error"] == "RuntimeError: down"
    assert db["last_success"] is None
    assert isinstance(db["latency_ms"], float)


def test_a_fault_in_the_runner_fails_the_check_not_the_caller(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks = HealthRegistry(registry=registry)
    checks.add_check(lambda: True, name="db")

    def broken(self: health.Check, loop: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(health.Check, "start", broken)
    report = checks.run()
    assert report.status == "unhealthy"
    error = report.results[0].error
    assert error == "internal error in watchkeeper's health runner: RuntimeError: bug"
    assert value(registry, "watchkeeper_internal_errors_total", component="health.run") == 1
