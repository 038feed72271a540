"""``watchkeeper.profile``: CPU and memory of a block, a function, a coroutine."""

from __future__ import annotations

import asyncio
import logging

import pytest

import watchkeeper
from watchkeeper.profiling import ProfileReport, profile

HELD: list[bytearray] = []


def busy_loop(n: int) -> int:
    return sum(i * i for i in range(n))


def allocate(megabytes: int) -> None:
    HELD.append(bytearray(megabytes * 1024 * 1024))


def test_block_reports_the_hot_function_and_the_memory_held(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="watchkeeper.profile")
    HELD.clear()
    with profile("import", top=5) as p:
        busy_loop(300_000)
        allocate(4)
    report = p.report
    assert report is not None
    assert report.name == "import"
    assert any("busy_loop" in row.function or "<genexpr>" in row.function for row in report.cpu)
    assert len(report.cpu) <= 5
    assert report.peak_bytes is not None
    assert report.peak_bytes >= 4 * 1024 * 1024
    top = report.memory[0]
    assert top.location.endswith(f"test_block.py:{allocate.__code__.co_firstlineno + 1}")
    assert top.size_bytes >= 4 * 1024 * 1024
    text = report.text()
    assert "profile 'import'" in text
    assert "memory peak: 4." in text
    (record,) = [r for r in caplog.records if r.name == "watchkeeper.profile"]
    fields = record.__dict__
    assert fields["profile"] == "import"
    assert fields["profile_memory_peak_bytes"] == report.peak_bytes
    assert fields["profile_cpu_top"][0]["function"] == report.cpu[0].function
    HELD.clear()


def test_decorator_sync_and_async_and_nested_blocks() -> None:
    reports: list[ProfileReport] = []

    @watchkeeper.profile(memory=False, log=False, on_report=reports.append)
    def rebuild() -> int:
        return busy_loop(50_000)

    @watchkeeper.profile(name="reindex", log=False, on_report=reports.append)
    async def reindex() -> int:
        await asyncio.sleep(0)
        return busy_loop(50_000)

    assert rebuild() == busy_loop(50_000)
    assert asyncio.run(reindex()) == busy_loop(50_000)
    assert [r.name for r in reports] == [
        "test_decorator_sync_and_async_and_nested_blocks.<locals>.rebuild",
        "reindex",
    ]
    assert reports[0].peak_bytes is None  # memory=False
    assert reports[0].cpu
    assert reports[1].cpu

    with profile("outer", log=False) as outer, profile("inner", log=False) as inner:
        busy_loop(10_000)
    assert outer.report is not None
    assert inner.report is not None
    assert outer.report.cpu  # the outer holds the one CPU profiler
    assert inner.report.cpu == []  # so the inner gets memory only
    assert inner.report.peak_bytes is not None


def test_a_failing_block_still_reports_and_the_error_passes_through() -> None:
    def fail() -> None:
        busy_loop(1000)
        _ = 1 / 0

    with pytest.raises(ZeroDivisionError), profile("fails", log=False) as p:
        fail()
    assert p.report is not None
    assert p.report.duration_s > 0
