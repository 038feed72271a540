"""ProbeManager: the loop lifecycle, config changes, and one writer at a time with scrapes."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from tests.monitor.probe.conftest import Endpoint
from watchkeeper.monitor.model import Matcher, is_stale_nan
from watchkeeper.monitor.probe import ProbeConfig, ProbeManager
from watchkeeper.monitor.storage import MemoryStorage, open_storage


def _values(store: MemoryStorage, name: str) -> list[float]:
    return [v for ls, (_, vs) in store._series.items() if dict(ls)["__name__"] == name for v in vs]


async def _until(condition: object, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def test_run_probes_every_interval_until_stopped(endpoint: Endpoint) -> None:
    store = MemoryStorage()
    manager = ProbeManager(store, [ProbeConfig("web", endpoint.url, interval_s=1.0, timeout_s=1.0)])
    assert [s.health for s in manager.status()] == ["unknown"]

    async def go() -> None:
        running = asyncio.create_task(manager.run())
        await _until(lambda: len(_values(store, "probe_success")) >= 2)
        await manager.stop()
        await asyncio.wait_for(running, timeout=10)
        after_stop = len(endpoint.answer.methods)
        await asyncio.sleep(1.5)  # past the next interval: a loop still running would probe again
        assert len(endpoint.answer.methods) == after_stop

    asyncio.run(go())
    assert set(_values(store, "probe_success")) == {1.0}


def test_removed_probes_go_stale_and_duplicates_are_refused(endpoint: Endpoint) -> None:
    store = MemoryStorage()
    manager = ProbeManager(store, [ProbeConfig("web", endpoint.url)], offload=False)
    asyncio.run(manager.probe_all())
    manager.apply_config([])
    assert manager.status() == []
    for name in ("probe_success", "probe_duration_seconds", "probe_http_status_code"):
        values = _values(store, name)
        assert len(values) == 2
        assert is_stale_nan(values[1])
    with pytest.raises(ValueError, match="duplicate probes"):
        manager.apply_config([ProbeConfig("web", endpoint.url)] * 2)


def test_appends_wait_for_the_shared_writer_lock(endpoint: Endpoint, tmp_path: Path) -> None:
    """While another writer (a scrape's ingest) holds the lock, a probe appends nothing."""
    store = open_storage(tmp_path / "data")
    lock = threading.RLock()
    manager = ProbeManager(store, [ProbeConfig("web", endpoint.url)], writer_lock=lock)
    held, release = threading.Event(), threading.Event()

    def other_writer() -> None:
        with lock:
            held.set()
            release.wait(30)

    holder = threading.Thread(target=other_writer)
    holder.start()
    held.wait(10)
    success = [Matcher.of("__name__", "=", "probe_success")]

    async def go() -> None:
        probing = asyncio.create_task(manager.probe_all())
        await _until(lambda: endpoint.answer.methods)  # the request was answered
        await asyncio.sleep(0.3)
        assert not probing.done()
        assert list(store.select(success, 0, 2**62)) == []
        release.set()
        statuses = await asyncio.wait_for(probing, timeout=10)
        assert [s.health for s in statuses] == ["up"]

    try:
        asyncio.run(go())
        assert [s.values.tolist() for s in store.select(success, 0, 2**62)] == [[1.0]]
    finally:
        release.set()
        holder.join()
        store.close()
