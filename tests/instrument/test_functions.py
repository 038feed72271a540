"""@measured on sync and async functions."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.instrument.conftest import value
from watchkeeper import measured
from watchkeeper.instrument import functions as functions_module
from watchkeeper.instrument.metrics import HistogramChild
from watchkeeper.instrument.registry import Registry


def test_sync_calls_errors_and_duration(registry: Registry) -> None:
    @measured(registry=registry)
    def divide(a: int, b: int) -> float:
        return a / b

    assert divide(6, 3) == 2
    assert divide(1, 4) == 0.25
    with pytest.raises(ZeroDivisionError):
        divide(1, 0)
    fn = "test_sync_calls_errors_and_duration.<locals>.divide"
    assert value(registry, "function_calls_total", function=fn, result="ok") == 2
    assert value(registry, "function_calls_total", function=fn, result="error") == 1
    assert value(registry, "function_duration_seconds_count", function=fn) == 3
    assert value(registry, "function_in_flight", function=fn) == 0
    assert divide.__name__ == "divide"


def test_async_function_and_custom_name(registry: Registry) -> None:
    seen_in_flight: list[float] = []

    @measured(name="verify", registry=registry)
    async def verify(claim: str) -> bool:
        seen_in_flight.append(value(registry, "function_in_flight", function="verify"))
        await asyncio.sleep(0)
        if claim == "bad":
            raise ValueError(claim)
        return claim == "2+2=4"

    assert asyncio.run(verify("2+2=4")) is True
    with pytest.raises(ValueError):
        asyncio.run(verify("bad"))
    assert seen_in_flight == [1, 1]
    assert value(registry, "function_calls_total", function="verify", result="ok") == 1
    assert value(registry, "function_calls_total", function="verify", result="error") == 1


def test_slow_calls_log_a_warning_with_the_duration(
    registry: Registry, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    ticks = iter([10.0, 10.8, 20.0, 20.1])
    monkeypatch.setattr(functions_module, "perf_counter", lambda: next(ticks))

    @measured(name="query", slow=0.5, registry=registry)
    def query() -> None:
        return None

    with caplog.at_level(logging.WARNING, logger="watchkeeper"):
        query()  # 0.8 s: slow
        query()  # 0.1 s: fine
    slow = [r for r in caplog.records if r.getMessage().startswith("slow call")]
    assert len(slow) == 1
    assert "query took 0.800 s (threshold 0.500 s)" in slow[0].getMessage()
    assert slow[0].__dict__["duration_s"] == pytest.approx(0.8)


def test_a_failing_metric_never_breaks_the_function(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    @measured(name="work", registry=registry)
    def work() -> int:
        return 42

    def boom(*args: object) -> None:
        raise RuntimeError("injected")

    monkeypatch.setattr(HistogramChild, "observe", boom)
    assert work() == 42
    assert value(registry, "watchkeeper_internal_errors_total", component="measured") == 1
