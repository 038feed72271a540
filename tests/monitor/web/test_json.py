"""Values and timestamps are spelled exactly as Prometheus' API spells them."""

from __future__ import annotations

import math

import pytest

from watchkeeper.monitor.promql.value import Matrix, Sample, Scalar, Series, String, Vector
from watchkeeper.monitor.web.json import format_float, format_timestamp, render_value


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
