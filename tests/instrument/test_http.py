"""The HTTP metric set: deferred recording and its background folder."""

from __future__ import annotations

import time

from tests.instrument.conftest import value
from watchkeeper.instrument.http import WAKE_FOLDER_AT, HTTPMetrics
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
    deadline = time.monotonic() + 10
    while http.duration.series_count() == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    (child,) = [c for _, c in http.duration.children()]
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
