"""Scrape-time reads of slow backends (``ScrapeSource``): a hung queue backend cannot stall
/metrics, nor pile up threads; values are cached for ``ttl``; failures drop the series.

No wall-clock assertions: a hang is an Event that never fires until the test sets it, so
a render that returns at all proves the scrape did not wait for the backend."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterator

import pytest

from tests.instrument.conftest import value, values
from watchkeeper.instrument import queues
from watchkeeper.instrument.registry import Registry
from watchkeeper.instrument.scrape_source import ScrapeSource

DEPTH = "queue_depth"


@pytest.fixture
def release() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()  # let the hung fetch threads finish


def _wait_for(condition: object, deadline_s: float = 30.0) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if callable(condition) and condition():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def test_a_hung_backend_does_not_stall_the_scrape(
    registry: Registry, release: threading.Event
) -> None:
    calls: list[None] = []

    def hung_depth() -> int:
        calls.append(None)
        release.wait()
        return 42

    queues.track("hung", depth=hung_depth, timeout=0.05, ttl=0, registry=registry)
    # (a generous timeout for the healthy one: a loaded machine may start its fetch
    # thread late; the hung one's 0.05 s is what bounds the scrape)
    queues.track("fine", depth=lambda: 3, timeout=30, ttl=0, registry=registry)
    for _ in range(3):  # each render returns although the backend never answers
        assert not values(registry, DEPTH, queue="hung")
        assert value(registry, DEPTH, queue="fine") == 3
    assert len(calls) == 1  # one fetch in flight, not one thread per scrape
    assert value(registry, "watchkeeper_internal_errors_total", component="queue:hung") >= 1
    release.set()
    _wait_for(lambda: values(registry, DEPTH, queue="hung") == [42])


def test_several_hung_queues_share_one_wait(registry: Registry, release: threading.Event) -> None:
    started: list[str] = []

    def hung(name: str) -> int:
        started.append(name)
        release.wait()
        return 1

    for name in ("a", "b", "c"):
        queues.track(name, depth=functools.partial(hung, name), timeout=0.05, registry=registry)
    assert not values(registry, DEPTH)
    # Every fetch was started before the scrape waited on any of them.
    assert sorted(started) == ["a", "b", "c"]


def test_values_are_cached_for_ttl(registry: Registry) -> None:
    calls: list[None] = []

    def depth() -> int:
        calls.append(None)
        return len(calls)

    queues.track("cached", depth=depth, ttl=3600, registry=registry)
    assert value(registry, DEPTH, queue="cached") == 1
    assert value(registry, DEPTH, queue="cached") == 1
    assert len(calls) == 1


def test_a_failing_backend_drops_the_series(registry: Registry) -> None:
    state = {"fail": False}

    def depth() -> int:
        if state["fail"]:
            raise ConnectionError("queue backend down")
        return 7

    # timeout=30: the one fault counted is the backend's error, never a fetch thread
    # that a loaded machine started after the default 0.5 s
    queues.track("flaky", depth=depth, ttl=0, timeout=30, registry=registry)
    assert value(registry, DEPTH, queue="flaky") == 7
    state["fail"] = True
    assert not values(registry, DEPTH, queue="flaky")  # absent, not a frozen 7
    assert value(registry, "watchkeeper_internal_errors_total", component="queue:flaky") == 1
    state["fail"] = False
    assert value(registry, DEPTH, queue="flaky") == 7


def test_stale_value_is_served_while_a_refresh_hangs(
    registry: Registry, release: threading.Event
) -> None:
    answers = iter([5])

    def depth() -> int:
        try:
            return next(answers)
        except StopIteration:
            release.wait()
            return 6

    source = ScrapeSource(depth, component="q", registry=registry, timeout=0.05, ttl=0)
    assert source.get(wait=30) == 5
    assert source.get() == 5  # the refresh hangs: the last good value, within max_age
    source.max_age = 0
    assert source.get() is None  # too old to serve
    source.max_age = 60
    release.set()
    _wait_for(lambda: source.get(wait=30) == 6)
