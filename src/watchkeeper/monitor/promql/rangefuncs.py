"""Functions over range vectors (``rate``, ``*_over_time``, ``deriv``, ...), all series at once.

The samples of every series are concatenated into one timestamp and one value
array; per series and step, ``lo[i, k]:hi[i, k]`` indexes the samples inside the
window ``(end_k - range, end_k]`` (always within series ``i``'s block). ``rate`` and
friends are computed for the whole (series x steps) grid with a handful of numpy
operations, which is what keeps dashboard range queries fast; the rest loop over
windows in Python with Prometheus' exact summation order.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from watchkeeper.monitor.promql import mathutil
from watchkeeper.monitor.promql.steps import BoolArray, FloatArray, IntArray

__all__ = ["KEEPS_NAME", "RANGE_FUNCTIONS", "RangeCtx", "linear_regression"]


@dataclass(slots=True)
class RangeCtx:
    ends: IntArray  # per step: window end (after @ and offset)
    range_ms: int
    step_times: IntArray  # per step: the evaluation time itself
    params: list[FloatArray]  # scalar arguments other than the range vector, per step
    check_time: Callable[[], None] = lambda: None  # raises when the query ran out of time


# (timestamps, values, lo, hi, ctx) -> (values, present), both shaped like lo.
RangeFunc = Callable[
    [IntArray, FloatArray, IntArray, IntArray, RangeCtx], tuple[FloatArray, BoolArray]
]


def _extrapolated(is_counter: bool, is_rate: bool) -> RangeFunc:
    """Prometheus' extrapolatedRate over the whole grid."""

    def fn(
        ts: IntArray, vs: FloatArray, lo: IntArray, hi: IntArray, ctx: RangeCtx
    ) -> tuple[FloatArray, BoolArray]:
        n = hi - lo
        ok = n >= 2
        out = np.zeros(lo.shape, dtype=np.float64)
        if not ok.any():
            return out, ok
        first_i = np.where(ok, lo, 0)
        last_i = np.where(ok, hi - 1, 0)
        first_v, last_v = vs[first_i], vs[last_i]
        first_t, last_t = ts[first_i], ts[last_i]
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            result = last_v - first_v
            if is_counter:
                result = _add_resets(vs, lo, hi, ok, result)
            range_start = ctx.ends - ctx.range_ms
            to_start = (first_t - range_start) / 1000.0
            to_end = (ctx.ends - last_t) / 1000.0
            sampled = (last_t - first_t) / 1000.0
            avg_gap = sampled / np.maximum(n - 1, 1)
            threshold = avg_gap * 1.1
            to_start = np.where(to_start >= threshold, avg_gap / 2, to_start)
            if is_counter:
                # Counters start at zero: never extrapolate below it.
                to_zero = sampled * (first_v / result)
                clamp = (result > 0) & (first_v >= 0) & (to_zero < to_start)
                to_start = np.where(clamp, to_zero, to_start)
            to_end = np.where(to_end >= threshold, avg_gap / 2, to_end)
            interval = sampled + to_start
            interval = interval + to_end
            factor = interval / sampled
            if is_rate:
                factor = factor / (ctx.range_ms / 1000.0)
            out = np.where(ok, result * factor, 0.0)
        return out, ok

    return fn


def _add_resets(
    vs: FloatArray, lo: IntArray, hi: IntArray, ok: BoolArray, result: FloatArray
) -> FloatArray:
    """Add the pre-reset value for every counter reset inside each window.

    Counting resets with a cumulative sum is exact and cheap; only windows that
    contain one are re-added sample by sample, in Prometheus' order.
    """
    if len(vs) < 2:
        return result
    drops = vs[1:] < vs[:-1]
    if not drops.any():
        return result
    # cum[k] = resets among pairs (j-1, j) with j <= k; a window [lo, hi) holds
    # the pairs with lo < j < hi (never across series: windows stay in one block).
    cum = np.concatenate(([0], np.cumsum(drops)))
    # Windows with fewer than two samples may sit past the last sample (lo == len).
    first = np.where(ok, lo, 0)
    last = np.where(ok, hi - 1, 0)
    counts = np.where(ok, cum[last] - cum[first], 0)
    result = result.copy()
    for idx in zip(*np.nonzero(counts > 0), strict=True):
        a, b = int(lo[idx]), int(hi[idx])
        r = float(result[idx])
        prev = float(vs[a])
        for j in range(a + 1, b):
            cur = float(vs[j])
            if cur < prev:
                r += prev
            prev = cur
        result[idx] = r
    return result


def _instant(is_rate: bool) -> RangeFunc:
    """irate / idelta: from the last two samples of each window."""

    def fn(
        ts: IntArray, vs: FloatArray, lo: IntArray, hi: IntArray, ctx: RangeCtx
    ) -> tuple[FloatArray, BoolArray]:
        ok = (hi - lo) >= 2
        last = np.where(ok, hi - 1, 0)
        prev = np.where(ok, hi - 2, 0)
        lv, pv = vs[last], vs[prev]
        dt = (ts[last] - ts[prev]).astype(np.float64)
        ok &= dt != 0
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            if is_rate:
                result = np.where(lv < pv, lv, lv - pv)
                result = result / (dt / 1000.0)
            else:
                result = lv - pv
        return result, ok

    return fn


WindowFunc = Callable[[list[int], list[float], int, RangeCtx], float | None]


def _per_window(min_samples: int, f: WindowFunc) -> RangeFunc:
    """Run ``f(timestamps, values, step_index, ctx)`` for every window with enough samples."""

    def fn(
        ts: IntArray, vs: FloatArray, lo: IntArray, hi: IntArray, ctx: RangeCtx
    ) -> tuple[FloatArray, BoolArray]:
        out = np.zeros(lo.shape, dtype=np.float64)
        present = np.zeros(lo.shape, dtype=np.bool_)
        ts_list: list[int] = ts.tolist()
        vs_list: list[float] = vs.tolist()
        for n, (i, k) in enumerate(zip(*np.nonzero(hi - lo >= min_samples), strict=True)):
            if n % 4096 == 4095:
                ctx.check_time()
            a, b = int(lo[i, k]), int(hi[i, k])
            v = f(ts_list[a:b], vs_list[a:b], int(k), ctx)
            if v is not None:
                out[i, k] = v
                present[i, k] = True
        return out, present

    return fn


def _stdvar(ts: list[int], vs: list[float], i: int, ctx: RangeCtx) -> float:
    return mathutil.variance(vs)


def _stddev(ts: list[int], vs: list[float], i: int, ctx: RangeCtx) -> float:
    var = mathutil.variance(vs)
    return math.sqrt(var) if var >= 0 else math.nan


def _quantile(ts: list[int], vs: list[float], i: int, ctx: RangeCtx) -> float:
    return mathutil.quantile(float(ctx.params[0][i]), vs)


def _mad(ts: list[int], vs: list[float], i: int, ctx: RangeCtx) -> float:
    median = mathutil.quantile(0.5, vs)
    return mathutil.quantile(0.5, [abs(v - median) for v in vs])


def _changes(ts: list[int], vs: list[float], i: int, ctx: RangeCtx) -> float:
    changes = 0
    prev = vs[0]
    for cur in vs[1:]:
        if not (cur == prev or (cur != cur and prev != prev)):
            changes += 1
        prev = cur
    return float(changes)


def _resets(ts: list[int], vs: list[float], i: int, ctx: RangeCtx) -> float:
    resets = 0
    prev = vs[0]
    for cur in vs[1:]:
        if cur < prev:
            resets += 1
        prev = cur
    return float(resets)


def linear_regression(ts: list[int], vs: list[float], intercept_ms: int) -> tuple[float, float]:
    """Least squares fit with x in seconds relative to ``intercept_ms`` (Prometheus' code path)."""
    n = 0.0
    sum_x = c_x = sum_y = c_y = sum_xy = c_xy = sum_x2 = c_x2 = 0.0
    init_y = vs[0]
    const_y = True
    for i, (t, v) in enumerate(zip(ts, vs, strict=True)):
        if const_y and i > 0 and v != init_y:
            const_y = False
        n += 1.0
        x = (t - intercept_ms) / 1e3
        sum_x, c_x = mathutil.kahan_inc(x, sum_x, c_x)
        sum_y, c_y = mathutil.kahan_inc(v, sum_y, c_y)
        sum_xy, c_xy = mathutil.kahan_inc(x * v, sum_xy, c_xy)
        sum_x2, c_x2 = mathutil.kahan_inc(x * x, sum_x2, c_x2)
    if const_y:
        if math.isinf(init_y):
            return math.nan, math.nan
        return 0.0, init_y
    sum_x += c_x
    sum_y += c_y
    sum_xy += c_xy
    sum_x2 += c_x2
    cov_xy = sum_xy - sum_x * sum_y / n
    var_x = sum_x2 - sum_x * sum_x / n
    slope = mathutil.go_div(cov_xy, var_x)
    intercept = sum_y / n - slope * sum_x / n
    return slope, intercept


def _deriv(ts: list[int], vs: list[float], i: int, ctx: RangeCtx) -> float:
    slope, _ = linear_regression(ts, vs, ts[0])
    return slope


def _predict_linear(ts: list[int], vs: list[float], i: int, ctx: RangeCtx) -> float:
    slope, intercept = linear_regression(ts, vs, int(ctx.step_times[i]))
    return slope * float(ctx.params[0][i]) + intercept


def _window_reduce(ufunc: np.ufunc, vs: FloatArray, lo: IntArray, hi: IntArray) -> FloatArray:
    """``ufunc`` over every window ``vs[lo:hi]`` in one ``reduceat`` call.

    The windows go in as interleaved (lo, hi) index pairs; every other result is a
    window's, the rest (gaps between windows) are discarded. A sentinel keeps
    ``hi == len(vs)`` a valid index; empty windows yield garbage the caller masks.
    """
    padded = np.append(vs, 0.0)
    pairs = np.empty(2 * lo.size, dtype=np.int64)
    pairs[0::2] = lo.ravel()
    pairs[1::2] = hi.ravel()
    out: FloatArray = ufunc.reduceat(padded, pairs)[0::2].reshape(lo.shape)
    return out


# Above this ratio of sum(|v|) to |sum(v)|, plain float summation may lose digits
# that Prometheus' Kahan summation keeps: such windows are recomputed exactly.
_ILL_CONDITIONED = 1e3


def _summing(mean: bool) -> RangeFunc:
    """sum_over_time / avg_over_time: numpy sums, Prometheus' algorithm where it matters."""
    exact = mathutil.mean if mean else mathutil.kahan_sum

    def fn(
        ts: IntArray, vs: FloatArray, lo: IntArray, hi: IntArray, ctx: RangeCtx
    ) -> tuple[FloatArray, BoolArray]:
        count = hi - lo
        present = count > 0
        with np.errstate(all="ignore"):
            total = _window_reduce(np.add, vs, lo, hi)
            magnitude = _window_reduce(np.add, np.abs(vs), lo, hi)
            out = total / np.maximum(count, 1) if mean else total
            redo = present & (~np.isfinite(total) | (magnitude > _ILL_CONDITIONED * np.abs(total)))
        if redo.any():
            values: list[float] = vs.tolist()
            for i, k in zip(*np.nonzero(redo), strict=True):
                out[i, k] = exact(values[int(lo[i, k]) : int(hi[i, k])])
        return np.where(present, out, 0.0), present

    return fn


def _extreme(ufunc: np.ufunc) -> RangeFunc:
    """min/max_over_time: fmin/fmax skip NaN, as Prometheus replaces a NaN running value."""

    def fn(
        ts: IntArray, vs: FloatArray, lo: IntArray, hi: IntArray, ctx: RangeCtx
    ) -> tuple[FloatArray, BoolArray]:
        present = hi > lo
        return np.where(present, _window_reduce(ufunc, vs, lo, hi), 0.0), present

    return fn


def _count_fn(
    ts: IntArray, vs: FloatArray, lo: IntArray, hi: IntArray, ctx: RangeCtx
) -> tuple[FloatArray, BoolArray]:
    count = hi - lo
    return count.astype(np.float64), count > 0


def _last_fn(
    ts: IntArray, vs: FloatArray, lo: IntArray, hi: IntArray, ctx: RangeCtx
) -> tuple[FloatArray, BoolArray]:
    present = hi > lo
    return vs[np.where(present, hi - 1, 0)], present


def _present_fn(
    ts: IntArray, vs: FloatArray, lo: IntArray, hi: IntArray, ctx: RangeCtx
) -> tuple[FloatArray, BoolArray]:
    present = hi > lo
    return np.ones(lo.shape, dtype=np.float64), present


RANGE_FUNCTIONS: dict[str, RangeFunc] = {
    "rate": _extrapolated(is_counter=True, is_rate=True),
    "increase": _extrapolated(is_counter=True, is_rate=False),
    "delta": _extrapolated(is_counter=False, is_rate=False),
    "irate": _instant(is_rate=True),
    "idelta": _instant(is_rate=False),
    "sum_over_time": _summing(mean=False),
    "avg_over_time": _summing(mean=True),
    "min_over_time": _extreme(np.fmin),
    "max_over_time": _extreme(np.fmax),
    "count_over_time": _count_fn,
    "last_over_time": _last_fn,
    "present_over_time": _present_fn,
    "stddev_over_time": _per_window(1, _stddev),
    "stdvar_over_time": _per_window(1, _stdvar),
    "quantile_over_time": _per_window(1, _quantile),
    "mad_over_time": _per_window(1, _mad),
    "changes": _per_window(1, _changes),
    "resets": _per_window(1, _resets),
    "deriv": _per_window(2, _deriv),
    "predict_linear": _per_window(2, _predict_linear),
}

# The one range function whose result keeps the metric name (Prometheus 3).
KEEPS_NAME = frozenset({"last_over_time"})
