"""Values and timestamps are spelled exactly as Prometheus' API spells them."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import orjson
import pytest

from watchkeeper.monitor.promql.value import (
    Matrix,
    Sample,
    Scalar,
    Series,
    String,
    Value,
    Vector,
)
from watchkeeper.monitor.web.json import (
    encode_success,
    format_float,
    format_timestamp,
    parse_value,
    render_value,
    success_body,
)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1"),
        (0.1, "0.1"),
        (-2.5, "-2.5"),
        (0.0, "0"),
        (-0.0, "-0"),
        (1e21, "1e+21"),
        (-1.5e300, "-1.5e+300"),
        (9.99e20, "999000000000000000000"),
        (1.2345678901234568e17, "123456789012345680"),
        (1e-6, "0.000001"),
        (2.5e-5, "0.000025"),
        (1e-7, "1e-07"),
        (8.285961676100547e-83, "8.285961676100547e-83"),
        (1 / 3, "0.3333333333333333"),
        (math.nan, "NaN"),
        (math.inf, "+Inf"),
        (-math.inf, "-Inf"),
    ],
)
def test_format_float_matches_prometheus_marshal_value(value: float, text: str) -> None:
    assert format_float(value) == text


def test_format_timestamp_is_seconds() -> None:
    assert format_timestamp(1_435_781_451_781) == 1435781451.781
    assert format_timestamp(1_435_781_451_000) == 1435781451


def test_render_every_value_type() -> None:
    labels = (("__name__", "up"), ("job", "api"))
    assert render_value(Scalar(1000, 2.0)) == {"resultType": "scalar", "result": [1, "2"]}
    assert render_value(String(1500, "x")) == {"resultType": "string", "result": [1.5, "x"]}
    assert render_value(Vector([Sample(labels, 2000, 1.0)])) == {
        "resultType": "vector",
        "result": [{"metric": {"__name__": "up", "job": "api"}, "value": [2, "1"]}],
    }
    assert render_value(Matrix([Series(labels, [(1000, 1.0), (2000, math.nan)])])) == {
        "resultType": "matrix",
        "result": [{"metric": {"__name__": "up", "job": "api"}, "values": [[1, "1"], [2, "NaN"]]}],
    }
    assert render_value(Vector()) == {"resultType": "vector", "result": []}


def _random_values(rng: random.Random, n: int) -> list[float]:
    pools: list[Callable[[], float]] = [
        lambda: rng.uniform(-1000, 1000),
        lambda: float(rng.randrange(-50, 50)),
        lambda: rng.random() * 10 ** rng.randrange(-9, 24),
        lambda: rng.choice([0.0, -0.0, 1e-4, 1e16, 9999999999999998.0, 0.1 + 0.2]),
    ]
    return [rng.choice(pools)() for _ in range(n)]


@pytest.mark.parametrize("seed", range(20))
def test_fast_matrix_encoding_equals_the_reference(seed: int) -> None:
    rng = random.Random(seed)
    series = []
    for i in range(rng.randrange(0, 6)):
        n = rng.randrange(0, 40)
        values = _random_values(rng, n)
        if seed % 4 == 0 and values:  # some series carry NaN and infinities
            values[rng.randrange(n)] = rng.choice([math.nan, math.inf, -math.inf])
        points = [
            (1_700_000_000_000 + 15_500 * k + rng.randrange(2), v) for k, v in enumerate(values)
        ]
        series.append(Series((("__name__", "m"), ("i", str(i))), points))
    matrix = Matrix(series)
    assert orjson.loads(encode_success(matrix)) == success_body(render_value(matrix))


def test_encode_success_for_other_types() -> None:
    for value in (Scalar(1000, 0.5), String(1000, "x"), Vector([Sample((), 1, math.inf)])):
        assert orjson.loads(encode_success(value)) == success_body(render_value(value))


def test_parse_value_inverts_render_value() -> None:
    labels = (("__name__", "up"), ("job", "api"))
    values: list[Value] = [
        Scalar(1500, 0.25),
        String(1000, "hi"),
        Vector([Sample(labels, 2000, math.inf)]),
        Matrix([Series(labels, [(1000, 1.0), (16_000, -2.5)])]),
    ]
    for value in values:
        assert parse_value(orjson.loads(encode_success(value))["data"]) == value
