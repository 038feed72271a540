"""Metric primitives and the registry's rules."""

from __future__ import annotations

import threading

import pytest

from tests.instrument.conftest import value, values
from watchkeeper.instrument.exposition import render
from watchkeeper.instrument.metrics import format_value
from watchkeeper.instrument.registry import Registry


def test_cardinality_budget_folds_new_label_sets_into_one_overflow_series() -> None:
    registry = Registry(cardinality_limit=5)
    counter = registry.counter("hits", "Hits.", ["user"])
    for i in range(12):
        counter.labels(f"user{i}").inc()
    assert counter.series_count() == 6  # 5 label sets + the overflow series
    assert value(registry, "hits_total", otel_metric_overflow="true") == 7
    assert value(registry, "watchkeeper_dropped_label_sets_total", metric="hits") == 7
    # label sets admitted before the limit keep counting normally
    counter.labels("user0").inc()
    assert value(registry, "hits_total", user="user0") == 2


def test_per_metric_limit_overrides_the_registry_default(registry: Registry) -> None:
    gauge = registry.gauge("g", "G.", ["k"], limit=2)
    for i in range(4):
        gauge.labels(str(i)).set(i)
    assert len(values(registry, "g")) == 3


def test_registry_get_or_create_and_conflicts(registry: Registry) -> None:
    first = registry.counter("requests_total", "Requests.", ["code"])
    assert registry.counter("requests", "Requests.", ["code"]) is first
    with pytest.raises(ValueError, match="already registered as a counter"):
        registry.gauge("requests", "Requests.", ["code"])
    with pytest.raises(ValueError, match="already registered"):
        registry.counter("requests", "Requests.", ["other"])
    registry.histogram("h_seconds", "H.", buckets=[1, 2])
    with pytest.raises(ValueError, match="buckets"):
        registry.histogram("h_seconds", "H.", buckets=[1, 3])


@pytest.mark.parametrize(
    ("name", "labels", "match"),
    [
        ("bad-name", [], "invalid metric name"),
        ("ok", ["bad-label"], "invalid label name"),
        ("ok", ["__reserved"], "invalid label name"),
        ("ok", ["le"], "reserved"),
    ],
)
def test_invalid_names_are_refused_with_the_fix(name: str, labels: list[str], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Registry().counter(name, "x", labels)


def test_counters_refuse_to_go_down(registry: Registry) -> None:
    with pytest.raises(ValueError, match="non-negative"):
        registry.counter("c", "C.").inc(-1)


def test_histogram_buckets_are_cumulative_and_le_inclusive(registry: Registry) -> None:
    hist = registry.histogram("size_bytes", "Size.", buckets=[10, 100])
    for v in [1, 10, 11, 100, 1000]:
        hist.observe(v)
    assert value(registry, "size_bytes_bucket", le="10.0") == 2
    assert value(registry, "size_bytes_bucket", le="100.0") == 4
    assert value(registry, "size_bytes_bucket", le="+Inf") == 5
    assert value(registry, "size_bytes_count") == 5
    assert value(registry, "size_bytes_sum") == 1122


def test_concurrent_increments_are_not_lost(registry: Registry) -> None:
    counter = registry.counter("c", "C.", ["k"])
    hist = registry.histogram("h", "H.", buckets=[1])

    def work() -> None:
        child = counter.labels("x")
        for _ in range(20_000):
            child.inc()
            hist.observe(0.5)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert value(registry, "c_total", k="x") == 80_000
    assert value(registry, "h_count") == 80_000


def test_format_value_matches_go_spelling() -> None:
    assert format_value(float("inf")) == "+Inf"
    assert format_value(float("-inf")) == "-Inf"
    assert format_value(float("nan")) == "NaN"
    assert format_value(3) == "3"
    assert format_value(0.25) == "0.25"


def test_label_less_series_have_no_braces(registry: Registry) -> None:
    registry.counter("plain", "Plain.").inc()
    assert "\nplain_total 1\n" in render(registry)
