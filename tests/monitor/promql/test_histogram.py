"""histogram_quantile: the vectorised path agrees with the scalar BucketQuantile port."""

from __future__ import annotations

import math

import numpy as np
import pytest

from watchkeeper.monitor.promql.histogram import bucket_quantile, histogram_quantile
from watchkeeper.monitor.promql.mathutil import almost_equal
from watchkeeper.monitor.promql.steps import StepSeries

BOUNDS = ["0.1", "0.5", "1", "1.0", "5", "+Inf"]


def _series(counts: np.ndarray, present: np.ndarray) -> list[StepSeries]:
    return [
        StepSeries((("__name__", "x_bucket"), ("le", le)), counts[i], present[i])
        for i, le in enumerate(BOUNDS)
    ]


@pytest.mark.parametrize("seed", range(20))
def test_vectorised_matches_scalar(seed: int) -> None:
    rng = np.random.default_rng(seed)
    steps = 40
    # Mostly cumulative counts, with zeros, ties, decreases and tiny float noise mixed in.
    counts = np.cumsum(rng.integers(0, 4, size=(len(BOUNDS), steps)), axis=0).astype(float)
    counts[rng.random(counts.shape) < 0.1] -= 1.0
    counts[rng.random(counts.shape) < 0.05] *= 1 + 1e-14
    counts[:, :3] = 0.0
    present = rng.random(counts.shape) > 0.05
    q = rng.choice([0.0, 0.25, 0.5, 0.9, 0.99, 1.0, -0.5, 1.5, math.nan], size=steps)
    out = histogram_quantile(q, _series(counts, present))
    assert len(out) == 1
    assert out[0].labels == ()
    for k in range(steps):
        buckets = [
            (float(BOUNDS[i]), float(counts[i, k])) for i in range(len(BOUNDS)) if present[i, k]
        ]
        assert out[0].present[k] == bool(buckets)
        if buckets:
            want = bucket_quantile(float(q[k]), buckets)
            assert almost_equal(want, float(out[0].values[k]), 1e-12), (k, want, out[0].values[k])


def test_missing_inf_bucket_is_nan() -> None:
    assert math.isnan(bucket_quantile(0.5, [(1.0, 1.0), (2.0, 2.0)]))
    series = [
        StepSeries((("le", "1"),), np.array([1.0]), np.array([True])),
        StepSeries((("le", "2"),), np.array([2.0]), np.array([True])),
    ]
    assert math.isnan(float(histogram_quantile(np.array([0.5]), series)[0].values[0]))


def test_interpolates_within_a_bucket() -> None:
    buckets = [(0.0, 0.0), (2.0, 1.0), (4.0, 2.0), (6.0, 3.0), (math.inf, 3.0)]
    assert bucket_quantile(0.5, buckets) == 3.0
    assert bucket_quantile(1.0, buckets) == 6.0
