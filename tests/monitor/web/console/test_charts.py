from __future__ import annotations

import warnings

import numpy as np

from watchkeeper.monitor.promql.value import Matrix, Series
from watchkeeper.monitor.web.console.charts import MAX_SERIES, downsample, to_chart


def test_points_land_on_the_query_grid_with_gaps_as_null() -> None:
    matrix = Matrix(
        [
            Series((("http_route", "/b"),), [(1000, 1.0), (3000, 3.0)]),
            Series((("http_route", "/a"),), [(2000, float("nan"))]),
        ]
    )
    chart = to_chart("t", matrix, 1000, 4000, 1000, unit="s")
    assert chart.xs == [1.0, 2.0, 3.0, 4.0]
    # Sorted by legend; NaN is a gap (null), not a zero.
    assert chart.series == [
        ('{http_route="/a"}', [None, None, None, None]),
        ('{http_route="/b"}', [1.0, None, 3.0, None]),
    ]
    assert chart.to_json()["data"][0] == chart.xs


def test_series_beyond_the_cap_are_counted_not_drawn() -> None:
    matrix = Matrix([Series((("i", f"{i:03d}"),), [(0, 1.0)]) for i in range(MAX_SERIES + 5)])
    chart = to_chart("t", matrix, 0, 0, 1000)
    assert len(chart.series) == MAX_SERIES
    assert chart.truncated == 5


def test_downsample_keeps_every_bucket_minimum_and_maximum() -> None:
    rng = np.random.default_rng(1)
    xs = np.arange(10_000, dtype=np.float64)
    ys = rng.normal(size=(3, 10_000))
    ys[1, 5000] = 99.0  # a one-sample spike must survive
    ys[2, :] = np.nan  # an empty series stays empty
    cut_x, cut_y = downsample(xs, ys, 1000)
    assert cut_x.shape == (1000,)
    assert cut_y.shape == (3, 1000)
    assert np.all(np.diff(cut_x) >= 0)
    assert cut_y[1].max() == 99.0
    assert np.nanmin(cut_y[0]) == ys[0].min()
    assert np.nanmax(cut_y[0]) == ys[0].max()
    assert np.isnan(cut_y[2]).all()


def test_downsample_leaves_short_series_alone_and_warns_about_nothing() -> None:
    xs = np.arange(10, dtype=np.float64)
    ys = np.full((1, 10), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out_x, out_y = downsample(xs, ys, 100)
    assert out_x is xs
    assert out_y is ys
    chart = to_chart(
        "t",
        Matrix([Series((), [(i * 1000, float(i)) for i in range(5000)])]),
        0,
        4_999_000,
        1000,
        max_points=500,
    )
    assert len(chart.xs) == 500
    assert max(v for v in chart.series[0][1] if v is not None) == 4999.0
