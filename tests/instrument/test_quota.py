"""watchkeeper.quota: gauges refreshed at scrape time with caching and a timeout."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import pytest

from tests.instrument.conftest import value, values
from tests.instrument.servers.promtool import promtool_problems
from watchkeeper.errors import ConfigurationError
from watchkeeper.instrument.exposition import render
from watchkeeper.instrument.quota import parse_status, quota
from watchkeeper.instrument.registry import Registry


@dataclass
class QuotaStatus:  # the shape of QWED's client.get_quota_status()
    used: int
    remaining: int


def _wait_for(condition: Any, what: str) -> None:
    deadline = time.monotonic() + 20
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_refresh_callback_feeds_the_gauges_at_scrape_time(registry: Registry) -> None:
    calls = []

    def get_quota_status() -> QuotaStatus:
        calls.append(1)
        return QuotaStatus(used=100 * len(calls), remaining=1000 - 100 * len(calls))

    q = quota("qwed_api", get_quota_status, max_age=30, registry=registry)
    now = [0.0]
    q.clock = lambda: now[0]
    assert calls == []  # nothing is called before a scrape
    assert value(registry, "quota_remaining", quota="qwed_api") == 900
    assert value(registry, "quota_used", quota="qwed_api") == 100
    assert value(registry, "quota_limit", quota="qwed_api") == 1000
    assert value(registry, "quota_last_refresh_timestamp_seconds", quota="qwed_api") > 0
    # cached: scrapes within max_age do not call the quota API again
    render(registry)
    render(registry)
    assert len(calls) == 1
    now[0] += 31
    assert value(registry, "quota_remaining", quota="qwed_api") == 800
    assert len(calls) == 2


def test_a_hanging_callback_delays_a_scrape_by_the_timeout_only(registry: Registry) -> None:
    release = threading.Event()
    calls = []

    def hangs() -> dict[str, int]:
        calls.append(1)
        release.wait(30)
        return {"limit": 50, "remaining": 5}

    quota("slow", hangs, timeout=0.05, registry=registry)
    # the scrape returns while the callback is still blocked, with no quota series yet
    assert values(registry, "quota_remaining", quota="slow") == []
    assert not release.is_set()
    assert value(registry, "quota_refresh_failures_total", quota="slow") == 1
    render(registry)  # while it still hangs no second call is started
    assert len(calls) == 1
    release.set()
    _wait_for(lambda: values(registry, "quota_remaining", quota="slow") == [5], "late value")
    assert value(registry, "quota_used", quota="slow") == 45


def test_a_failing_callback_keeps_the_last_values_and_never_raises(
    registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    results: list[Any] = [{"total": 10, "used": 3}]

    def flaky() -> Any:
        result = results.pop(0)
        if isinstance(result, Exception):
            raise result
        return result

    q = quota("flaky", flaky, max_age=10, registry=registry)
    now = [0.0]
    q.clock = lambda: now[0]
    assert value(registry, "quota_remaining", quota="flaky") == 7
    results.append(ConnectionError("quota API down"))
    now[0] += 11
    assert value(registry, "quota_remaining", quota="flaky") == 7
    results.append({"used": 3})  # unusable: one number only
    now[0] += 11
    assert value(registry, "quota_remaining", quota="flaky") == 7
    assert value(registry, "quota_refresh_failures_total", quota="flaky") == 2
    assert any("quota API down" in r.getMessage() for r in caplog.records)
    assert q.refresh is flaky


def test_async_callbacks_and_pushed_values(registry: Registry) -> None:
    async def remote() -> dict[str, int]:
        return {"limit": 100, "used": 99}

    quota("async_api", remote, registry=registry)
    quota("emails", registry=registry).set(limit=10_000, used=812)
    assert value(registry, "quota_remaining", quota="async_api") == 1
    assert value(registry, "quota_remaining", quota="emails") == 9188
    quota("emails", registry=registry).set(used=5)  # unusable: counted, not raised
    assert value(registry, "watchkeeper_internal_errors_total", component="quota.set:emails") == 1


def test_status_parsing_and_option_errors() -> None:
    assert parse_status({"limit": 10, "remaining": 4}) == (10, 6, 4)
    assert parse_status(QuotaStatus(used=1, remaining=2)) == (3, 1, 2)
    with pytest.raises(ValueError, match="'used' must be a number"):
        parse_status({"used": "lots", "remaining": 1})
    with pytest.raises(ConfigurationError, match="timeout > 0"):
        quota("x", timeout=0, registry=Registry())


def test_metric_names_pass_promtool(registry: Registry) -> None:
    quota("a", lambda: {"limit": 3, "used": 1}, registry=registry)
    quota("b", lambda: 1 / 0, registry=registry)
    assert promtool_problems(render(registry)) == ""
