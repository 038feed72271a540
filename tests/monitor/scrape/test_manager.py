"""ScrapeManager: loops run on their own, config changes apply live, removed targets go stale."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest

from tests.monitor.scrape.conftest import Target
from watchkeeper.monitor.model import Labels, is_stale_nan
from watchkeeper.monitor.scrape import ScrapeManager, TargetConfig
from watchkeeper.monitor.storage import MemoryStorage


async def _until(condition: Callable[[], bool]) -> None:
    """Wait for a condition (not a timing assertion: the bound only prevents a hang)."""
    for _ in range(2000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached within 20 s")


def test_run_apply_config_and_stop(target: Target) -> None:
    target.exposition.body = "a 1\n"
    store = MemoryStorage()
    first = TargetConfig("one", target.url, interval_s=0.1, timeout_s=0.1)
    second = TargetConfig("two", target.url, interval_s=0.1, timeout_s=0.1)
    manager = ScrapeManager(store, [first, second])
    assert [s.health for s in manager.status()] == ["unknown", "unknown"]

    def series_of(job: str) -> list[float]:
        return [
            v
            for labels, (_, vs) in store._series.items()
            if dict(labels).get("job") == job and dict(labels)["__name__"] == "a"
            for v in vs
        ]

    async def scenario() -> None:
        runner = asyncio.create_task(manager.run())
        await _until(lambda: all(s.health == "up" for s in manager.status()))
        await _until(lambda: len(series_of("one")) >= 2)
        manager.apply_config([first])
        assert [s.job for s in manager.status()] == ["one"]
        assert is_stale_nan(series_of("two")[-1])
        scraped = len(series_of("one"))
        await _until(lambda: len(series_of("one")) > scraped)  # "one" keeps running
        # A new target added while running starts scraping too.
        third = TargetConfig("three", target.url, interval_s=0.1, timeout_s=0.1)
        manager.apply_config([first, third])
        await _until(lambda: len(series_of("three")) >= 1)
        await manager.stop()
        await runner

    asyncio.run(scenario())
    assert not [v for v in series_of("two")[:-1] if is_stale_nan(v)]


def test_scrape_all_once(target: Target) -> None:
    target.exposition.body = "a 1\n"
    store = MemoryStorage()
    manager = ScrapeManager(store, [TargetConfig("one", target.url)])

    async def once() -> None:
        await manager.scrape_all()
        await manager.stop()

    asyncio.run(once())
    (status,) = manager.status()
    assert status.health == "up"
    assert status.samples == 1


def test_duplicate_targets_are_rejected(target: Target) -> None:
    cfg = TargetConfig("one", target.url)
    with pytest.raises(ValueError, match="duplicate scrape targets"):
        ScrapeManager(MemoryStorage(), [cfg, cfg])


class _FlakyStore(MemoryStorage):
    """Its first commit fails, as a full disk would."""

    def __init__(self) -> None:
        super().__init__()
        self.commits = 0

    def commit(self) -> None:
        self.commits += 1
        if self.commits == 1:
            raise OSError("No space left on device")


def test_a_failing_store_does_not_end_the_scrape_loop(target: Target) -> None:
    target.exposition.body = "a 1\n"
    store = _FlakyStore()
    manager = ScrapeManager(store, [TargetConfig("one", target.url, interval_s=0.1, timeout_s=0.1)])

    async def scenario() -> None:
        runner = asyncio.create_task(manager.run())
        await _until(lambda: store.commits >= 3)
        await manager.stop()
        await runner

    asyncio.run(scenario())


class _SingleWriterCheck(MemoryStorage):
    """Records whether two threads were ever inside append/commit at once."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = 0
        self.overlaps = 0
        self.threads: set[int] = set()
        self.commits = 0

    def _enter(self) -> None:
        self.inside += 1
        if self.inside > 1:
            self.overlaps += 1
        self.threads.add(threading.get_ident())
        time.sleep(0)  # let another thread run here if it could

    def append(self, labels: Labels, timestamp_ms: int, value: float) -> bool:
        self._enter()
        try:
            return super().append(labels, timestamp_ms, value)
        finally:
            self.inside -= 1

    def commit(self) -> None:
        self._enter()
        self.commits += 1
        self.inside -= 1


def test_offloaded_ingest_keeps_a_single_writer(target: Target) -> None:
    target.exposition.body = "".join(f'm{{i="{i}"}} {i}\n' for i in range(300))
    store = _SingleWriterCheck()
    configs = [
        TargetConfig(f"job{n}", target.url, interval_s=0.05, timeout_s=0.05) for n in range(4)
    ]
    manager = ScrapeManager(store, configs)

    async def scenario() -> None:
        runner = asyncio.create_task(manager.run())
        await _until(lambda: store.commits >= 40)
        await manager.stop()
        await runner

    asyncio.run(scenario())
    assert threading.get_ident() not in store.threads  # ingest ran off the event loop
    assert store.overlaps == 0


def test_changed_target_labels_make_the_old_series_stale(target: Target) -> None:
    target.exposition.body = "a 1\n"
    store = MemoryStorage()
    before = TargetConfig("one", target.url, labels={"env": "a"})
    manager = ScrapeManager(store, [before])

    def env_series(env: str) -> list[float]:
        return [
            v
            for labels, (_, vs) in store._series.items()
            if dict(labels).get("env") == env and dict(labels)["__name__"] == "a"
            for v in vs
        ]

    async def scenario() -> None:
        await manager.scrape_all()
        manager.apply_config([TargetConfig("one", target.url, labels={"env": "b"})])
        await manager.scrape_all()
        await manager.stop()

    asyncio.run(scenario())
    assert env_series("a")[0] == 1.0
    assert is_stale_nan(env_series("a")[-1])
    assert env_series("b") == [1.0]
    assert manager.status()[0].labels["env"] == "b"
