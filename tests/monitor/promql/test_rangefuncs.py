"""Range-vector functions: the grid-wide numpy paths agree with plain scalar ports of Prometheus."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from watchkeeper.monitor.promql import mathutil
from watchkeeper.monitor.promql.rangefuncs import RANGE_FUNCTIONS, RangeCtx
from watchkeeper.monitor.promql.selectors import batch_windows
from watchkeeper.monitor.promql.steps import RangeSeries


def _extrapolated_rate(
    ts: list[int], vs: list[float], start: int, end: int, counter: bool, rate: bool
) -> float | None:
    """A line-by-line scalar port of Prometheus' extrapolatedRate, as the reference."""
    if len(vs) < 2:
        return None
    result = vs[-1] - vs[0]
    if counter:
        prev = vs[0]
        for cur in vs[1:]:
            if cur < prev:
                result += prev
            prev = cur
    to_start = (ts[0] - start) / 1000
    to_end = (end - ts[-1]) / 1000
    sampled = (ts[-1] - ts[0]) / 1000
    avg = sampled / (len(vs) - 1)
    threshold = avg * 1.1
    if to_start >= threshold:
        to_start = avg / 2
    if counter and result > 0 and vs[0] >= 0:
        to_zero = sampled * (vs[0] / result)
        if to_zero < to_start:
            to_start = to_zero
    if to_end >= threshold:
        to_end = avg / 2
    factor = (sampled + to_start + to_end) / sampled
    if rate:
        factor /= (end - start) / 1000
    return result * factor


def _min(vs: list[float]) -> float:
    best = vs[0]
    for v in vs[1:]:
        if v < best or math.isnan(best):
            best = v
    return best


def _max(vs: list[float]) -> float:
    best = vs[0]
    for v in vs[1:]:
        if v > best or math.isnan(best):
            best = v
    return best


def _random_series(rng: np.random.Generator, n: int) -> list[RangeSeries]:
    out = []
    for i in range(n):
        count = int(rng.integers(0, 60))
        ts = np.sort(rng.choice(np.arange(0, 1_200_000, 1000), size=count, replace=False))
        kind = i % 4
        if kind == 0:  # counter with resets
            vs = np.cumsum(rng.random(count) * 10)
            vs[rng.random(count) < 0.1] = 0.0
        elif kind == 1:  # gauge with NaN and infinities
            vs = rng.normal(0, 100, count)
            vs[rng.random(count) < 0.05] = np.nan
            vs[rng.random(count) < 0.03] = np.inf
        elif kind == 2:  # huge values that cancel
            vs = rng.choice([1e100, -1e100, 1.0, 2.5e307, -2.5e307], size=count)
        else:
            vs = rng.random(count)
        out.append(RangeSeries((("i", str(i)),), ts.astype(np.int64), vs.astype(np.float64)))
    return [s for s in out if len(s.timestamps)]


def _count(vs: list[float]) -> float:
    return float(len(vs))


def _last(vs: list[float]) -> float:
    return vs[-1]


def _one(vs: list[float]) -> float:
    return 1.0


SCALAR: dict[str, Callable[[list[float]], float]] = {
    "sum_over_time": mathutil.kahan_sum,
    "avg_over_time": mathutil.mean,
    "min_over_time": _min,
    "max_over_time": _max,
    "count_over_time": _count,
    "last_over_time": _last,
    "present_over_time": _one,
}


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("range_ms", [30_000, 300_000])
def test_grid_functions_match_scalar_references(seed: int, range_ms: int) -> None:
    rng = np.random.default_rng(seed)
    series = _random_series(rng, 24)
    ends = np.arange(0, 1_260_000, 15_000, dtype=np.int64)
    ts_all, vs_all, lo, hi = batch_windows(series, ends, range_ms)
    ctx = RangeCtx(ends, range_ms, ends, [])
    for name in [*SCALAR, "rate", "increase", "delta"]:
        values, present = RANGE_FUNCTIONS[name](ts_all, vs_all, lo, hi, ctx)
        for i, s in enumerate(series):
            for k, end in enumerate(ends.tolist()):
                keep = (s.timestamps > end - range_ms) & (s.timestamps <= end)
                ts = s.timestamps[keep].tolist()
                vs = s.values[keep].tolist()
                if name in SCALAR:
                    want = SCALAR[name](vs) if vs else None
                else:
                    want = _extrapolated_rate(
                        ts, vs, end - range_ms, end, name != "delta", name == "rate"
                    )
                assert bool(present[i, k]) == (want is not None), (name, i, k)
                if want is not None:
                    got = float(values[i, k])
                    assert mathutil.almost_equal(want, got, 1e-12), (name, i, k, want, got)
