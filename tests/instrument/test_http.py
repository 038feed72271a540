"""The HTTP metric set: deferred recording and its background folder."""

from __future__ import annotations

import random
import sys
import threading
import time
from collections.abc import Sequence

from tests.instrument.conftest import value
from watchkeeper.instrument._semconv import DURATION_BUCKETS, SIZE_BUCKETS
from watchkeeper.instrument.http import WAKE_FOLDER_AT, HTTPMetrics
from watchkeeper.instrument.metrics import HistogramChild
from watchkeeper.instrument.registry import Registry


def test_one_metric_set_per_registry() -> None:
    registry = Registry()
    assert HTTPMetrics.of(registry) is HTTPMetrics.of(registry)
    assert HTTPMetrics.of(Registry()) is not HTTPMetrics.of(registry)


def test_a_backlog_is_folded_in_the_background_without_any_scrape() -> None:
    registry = Registry()
    http = HTTPMetrics.of(registry)
    for i in range(WAKE_FOLDER_AT + 50):
        http.record("GET", "/items/{id}", 200, "", 0.01, 0, i)
    (child,) = [c for _, c in http.duration.children()]  # made by the first request
    deadline = time.monotonic() + 10
    while http.waiting() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sum(child.counts) == WAKE_FOLDER_AT + 50  # folded by the thread, not a render
    count = "http_server_request_duration_seconds_count"
    assert value(registry, count, http_route="/items/{id}") == WAKE_FOLDER_AT + 50


def test_in_flight_requests_are_counted_at_fold_time() -> None:
    registry = Registry()
    http = HTTPMetrics.of(registry)
    inflight = http.inflight("POST")
    inflight.append(None)
    inflight.append(None)
    assert value(registry, "http_server_active_requests", http_request_method="POST") == 2
    inflight.pop()
    assert value(registry, "http_server_active_requests", http_request_method="POST") == 1


def _one_by_one(bounds: tuple[float, ...], values: Sequence[float]) -> HistogramChild:
    child = HistogramChild(bounds, "", "reference")
    for v in values:
        child.observe(v)
    return child


def test_the_bulk_fold_counts_and_sums_exactly_like_one_by_one() -> None:
    rnd = random.Random(3)
    registry = Registry()
    http = HTTPMetrics.of(registry)
    # Values on the bucket bounds (le is inclusive), between them, above the last.
    durations = [rnd.choice(DURATION_BUCKETS) for _ in range(300)]
    durations += [rnd.expovariate(3) for _ in range(700)] + [0.0, 99.0, 10.0]
    rnd.shuffle(durations)
    sizes = [rnd.choice([0, 0, 100, 101, 999, 1000, 10**7, 10**8, rnd.randrange(10**6)])
             for _ in durations]  # fmt: skip
    received = [0 if i % 3 else s for i, s in enumerate(sizes)]
    for d, q, r in zip(durations, received, sizes, strict=True):
        http.record("GET", "/a", 200, "", d, q, r)
    for d in durations[:50]:  # a key whose requests carry no body at all
        http.record("POST", "/b", 201, "", d, 0, 7)
    http.fold()
    children = http._children_for(("GET", "/a", 200, ""))
    expected = (
        _one_by_one(http.duration.bounds, durations),
        _one_by_one(http.request_size.bounds, received),
        _one_by_one(http.response_size.bounds, sizes),
    )
    for got, want in zip(children, expected, strict=True):
        assert got.counts == want.counts
        assert got.sum == want.sum  # the same additions in the same order: equal floats
    post = http._children_for(("POST", "/b", 201, ""))
    assert post[1].counts == [50] + [0] * len(SIZE_BUCKETS)
    assert post[1].sum == 0
    assert post[2].counts[0] == 50
    assert http.waiting() == 0


def test_requests_past_the_label_budget_go_to_overflow_each_counted() -> None:
    registry = Registry(cardinality_limit=3)
    http = HTTPMetrics.of(registry)
    for i in range(10):
        http.record("GET", f"/r{i}", 200, "", 0.01, 0, 10)
        http.record("GET", f"/r{i}", 200, "", 0.02, 0, 10)
    assert len(http.observed) <= 3  # lists only for label sets within the budget
    http.fold()
    count = "http_server_request_duration_seconds_count"
    assert value(registry, count, otel_metric_overflow="true") == 20 - 2 * len(http.observed)
    total = sum(sum(c.counts) for _, c in http.duration.children())
    assert total == 20
    dropped = value(
        registry, "watchkeeper_dropped_label_sets_total",
        metric="http_server_request_duration_seconds",
    )  # fmt: skip
    assert dropped == 20 - 2 * len(http.observed)


def test_requests_recorded_while_folding_are_never_lost() -> None:
    registry = Registry()
    http = HTTPMetrics.of(registry)
    per_thread, threads = 20_000, 3
    done = threading.Event()

    def requests(route: str) -> None:
        for i in range(per_thread):
            http.record("GET", route, 200, "", 0.001 * (i % 50), 0, i % 300)

    def folds() -> None:
        while not done.is_set():
            http.fold()

    folder = threading.Thread(target=folds)
    workers = [threading.Thread(target=requests, args=(f"/t{k % 2}",)) for k in range(threads)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: races show up
    try:
        folder.start()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        done.set()
        folder.join()
        sys.setswitchinterval(interval)
    http.fold()
    total = sum(sum(c.counts) for _, c in http.duration.children())
    assert total == per_thread * threads
    sizes = sum(sum(c.counts) for _, c in http.response_size.children())
    assert sizes == per_thread * threads
