"""The Engine's public surface: result types, limits and Prometheus' error messages and kinds."""

from __future__ import annotations

import math

import pytest

from watchkeeper.errors import QueryError
from watchkeeper.monitor.model import STALE_NAN, labels_from
from watchkeeper.monitor.promql import (
    Engine,
    Matrix,
    Scalar,
    String,
    Vector,
    parse_duration,
)
from watchkeeper.monitor.storage.memory import MemoryStorage

MIN = 60_000


@pytest.fixture
def storage() -> MemoryStorage:
    s = MemoryStorage()
    for job, slope in (("a", 1.0), ("b", 2.0)):
        labels = labels_from({"__name__": "requests_total", "job": job})
        for i in range(61):
            s.append(labels, i * 15_000, slope * i)
    return s


def test_instant_result_types(storage: MemoryStorage) -> None:
    engine = Engine(storage)
    assert engine.instant_query("1 + 1", 10 * MIN) == Scalar(10 * MIN, 2.0)
    assert engine.instant_query('"hi"', 10 * MIN) == String(10 * MIN, "hi")
    vec = engine.instant_query("requests_total", 10 * MIN)
    assert isinstance(vec, Vector)
    assert [(s.labels, s.value) for s in vec.samples] == [
        ((("__name__", "requests_total"), ("job", "a")), 40.0),
        ((("__name__", "requests_total"), ("job", "b")), 80.0),
    ]
    assert all(s.timestamp_ms == 10 * MIN for s in vec.samples)
    mat = engine.instant_query("requests_total[30s]", 10 * MIN)
    assert isinstance(mat, Matrix)
    assert mat.series[0].points == [(585_000, 39.0), (600_000, 40.0)]


def test_range_query_scalar_becomes_one_unlabelled_series(storage: MemoryStorage) -> None:
    mat = Engine(storage).range_query("time()", 0, 2 * MIN, MIN)
    assert mat.series[0].labels == ()
    assert mat.series[0].points == [(0, 0.0), (MIN, 60.0), (2 * MIN, 120.0)]


def test_range_query_series_are_sorted_by_labels(storage: MemoryStorage) -> None:
    mat = Engine(storage).range_query("sort_desc(requests_total)", MIN, 2 * MIN, MIN)
    assert [dict(s.labels)["job"] for s in mat.series] == ["a", "b"]


def test_stale_marker_hides_the_series(storage: MemoryStorage) -> None:
    labels = labels_from({"__name__": "gauge"})
    storage.append(labels, 0, 1.0)
    storage.append(labels, 30_000, STALE_NAN)
    storage.append(labels, 60_000, math.nan)
    engine = Engine(storage)
    assert engine.instant_query("gauge", 45_000) == Vector([])
    # A real NaN is a value, not a marker.
    nan = engine.instant_query("gauge", 60_000)
    assert isinstance(nan, Vector)
    assert math.isnan(nan.samples[0].value)


def test_parse_errors_are_bad_data(storage: MemoryStorage) -> None:
    with pytest.raises(QueryError) as exc:
        Engine(storage).instant_query("sum(", 0)
    assert exc.value.kind == "bad_data"


def test_type_errors_use_prometheus_wording(storage: MemoryStorage) -> None:
    with pytest.raises(QueryError) as exc:
        Engine(storage).instant_query("rate(requests_total)", 0)
    assert exc.value.kind == "bad_data"
    assert str(exc.value) == (
        'expected type range vector in call to function "rate", got instant vector'
    )


@pytest.mark.parametrize(
    ("start", "end", "step", "message"),
    [
        (MIN, 0, 15_000, "end timestamp must not be before start time"),
        (0, MIN, 0, "zero or negative query resolution step widths are not accepted"),
        (0, 11_001 * 1000, 1000, "exceeded maximum resolution of 11,000 points per timeseries"),
    ],
)
def test_range_query_arguments(
    storage: MemoryStorage, start: int, end: int, step: int, message: str
) -> None:
    with pytest.raises(QueryError) as exc:
        Engine(storage).range_query("requests_total", start, end, step)
    assert exc.value.kind == "bad_data"
    assert str(exc.value).startswith(message)


def test_range_query_rejects_range_vectors(storage: MemoryStorage) -> None:
    with pytest.raises(QueryError) as exc:
        Engine(storage).range_query("requests_total[5m]", 0, MIN, MIN)
    assert exc.value.kind == "bad_data"
    assert 'invalid expression type "range vector" for range query' in str(exc.value)


def test_too_many_samples_is_an_execution_error(storage: MemoryStorage) -> None:
    engine = Engine(storage, max_samples=100)
    assert isinstance(engine.instant_query("rate(requests_total[5m])", 10 * MIN), Vector)
    with pytest.raises(QueryError) as exc:
        engine.range_query("requests_total", 0, 15 * MIN, 15_000)
    assert exc.value.kind == "execution"
    assert str(exc.value) == (
        "query processing would load too many samples into memory in query execution"
    )
    # One series' window (61 samples) at a time, as in Prometheus.
    assert isinstance(engine.instant_query("count_over_time(requests_total[1h])", 15 * MIN), Vector)
    with pytest.raises(QueryError):
        Engine(storage, max_samples=60).instant_query(
            "count_over_time(requests_total[1h])", 15 * MIN
        )


def test_timeout(storage: MemoryStorage) -> None:
    with pytest.raises(QueryError) as exc:
        Engine(storage, timeout_s=0.0).instant_query("requests_total", 0)
    assert exc.value.kind == "timeout"
    assert str(exc.value) == "query timed out in query execution"


def test_lookback_delta_is_configurable(storage: MemoryStorage) -> None:
    engine = Engine(storage, lookback_delta_ms=MIN)
    assert engine.instant_query("requests_total", 15 * MIN + 59_000) != Vector([])
    assert engine.instant_query("requests_total", 16 * MIN) == Vector([])


def test_unsupported_function_is_reported(storage: MemoryStorage) -> None:
    with pytest.raises(QueryError) as exc:
        Engine(storage).instant_query("info(requests_total)", 0)
    assert exc.value.kind == "bad_data"


@pytest.mark.parametrize(
    ("text", "ms"),
    [("5m", 300_000), ("1h30m", 5_400_000), ("250ms", 250), ("1d", 86_400_000), ("1.5", 1500)],
)
def test_parse_duration(text: str, ms: int) -> None:
    assert parse_duration(text) == ms


@pytest.mark.parametrize("text", ["", "5x", "abc", "NaN"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(QueryError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("foo(requests_total)", 'unknown function with name "foo"'),
        ("rate(requests_total[5m], 1)", 'expected 1 argument(s) in call to "rate", got 2'),
        (
            "sum(requests_total[5m])",
            "expected type instant vector in aggregation expression, got range vector",
        ),
    ],
)
def test_parse_messages_quote_like_go(storage: MemoryStorage, expr: str, message: str) -> None:
    with pytest.raises(QueryError) as exc:
        Engine(storage).instant_query(expr, 0)
    assert exc.value.kind == "bad_data"
    assert str(exc.value) == message
