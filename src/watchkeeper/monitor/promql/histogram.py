"""``histogram_quantile`` over classic (``le``-labelled) buckets, as Prometheus' BucketQuantile."""

from __future__ import annotations

import math

import numpy as np

from watchkeeper.monitor.model import Labels
from watchkeeper.monitor.promql.mathutil import MIN_NORMAL, almost_equal, go_div
from watchkeeper.monitor.promql.steps import BoolArray, FloatArray, StepSeries, merge_same_labels

__all__ = ["bucket_quantile", "histogram_quantile"]

# Bucket counts differing by less than this (relatively) are float noise from
# summing rates, not a real non-monotonicity.
_SMALL_DELTA_TOLERANCE = 1e-12


def bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """The q-quantile from (upper bound, cumulative count) pairs, interpolating linearly."""
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    buckets = sorted(buckets, key=lambda b: b[0])
    if not math.isinf(buckets[-1][0]) or buckets[-1][0] < 0:
        return math.nan
    # Coalesce buckets with the same upper bound (e.g. le="1" and le="1.0").
    bounds: list[float] = []
    counts: list[float] = []
    for ub, count in buckets:
        if bounds and bounds[-1] == ub:
            counts[-1] += count
        else:
            bounds.append(ub)
            counts.append(count)
    # Force monotonicity, ignoring tiny float differences in either direction.
    prev = counts[0]
    for i in range(1, len(counts)):
        cur = counts[i]
        if cur == prev:
            continue
        if almost_equal(prev, cur, _SMALL_DELTA_TOLERANCE) or cur < prev:
            counts[i] = prev
            continue
        prev = cur
    if len(counts) < 2:
        return math.nan
    observations = counts[-1]
    if observations == 0:
        return math.nan
    rank = q * observations
    # First bucket (excluding +Inf) whose count reaches the rank.
    b = len(counts) - 1
    for i in range(len(counts) - 1):
        if counts[i] >= rank:
            b = i
            break
    if b == len(counts) - 1:
        return bounds[-2]
    if b == 0 and bounds[0] <= 0:
        return bounds[0]
    bucket_start = 0.0
    bucket_end = bounds[b]
    count = counts[b]
    if b > 0:
        bucket_start = bounds[b - 1]
        count -= counts[b - 1]
        rank -= counts[b - 1]
    return bucket_start + (bucket_end - bucket_start) * go_div(rank, count)


def _parse_le(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def histogram_quantile(q: FloatArray, series: list[StepSeries]) -> list[StepSeries]:
    """Group series by their labels without ``le``; one quantile per group and step."""
    groups: dict[Labels, tuple[Labels, list[tuple[float, StepSeries]]]] = {}
    for s in series:
        le = _parse_le(dict(s.labels).get("le", ""))
        if le is None:
            continue
        key = tuple(p for p in s.labels if p[0] != "le")
        entry = groups.get(key)
        if entry is None:
            out_labels = tuple(p for p in key if p[0] != "__name__")
            entry = (out_labels, [])
            groups[key] = entry
        entry[1].append((le, s))
    qs = q.tolist()
    results: list[tuple[Labels, FloatArray, BoolArray]] = []
    # Steps where every bucket is there (the normal case) go through numpy, all
    # groups with the same bucket bounds in one call (columns are independent);
    # the others (buckets missing, NaN counts) take the scalar path.
    batches: dict[tuple[float, ...], list[tuple[int, BoolArray, FloatArray]]] = {}
    for out_labels, members in groups.values():
        members.sort(key=lambda m: m[0])
        bounds = tuple(le for le, _ in members)
        values = np.vstack([s.values for _, s in members])
        present = np.vstack([s.present for _, s in members])
        any_present: BoolArray = np.asarray(present.any(axis=0), dtype=np.bool_)
        whole: BoolArray = np.asarray(
            present.all(axis=0) & ~np.isnan(values).any(axis=0), dtype=np.bool_
        )
        if any(math.isnan(b) for b in bounds):
            whole[:] = False
        result = np.zeros(len(q), dtype=np.float64)
        for i in np.nonzero(any_present & ~whole)[0].tolist():
            col_p = present[:, i]
            col_v = values[:, i]
            buckets = [(bounds[j], float(col_v[j])) for j in range(len(bounds)) if col_p[j]]
            result[i] = bucket_quantile(qs[i], buckets)
        if whole.any():
            batches.setdefault(bounds, []).append((len(results), whole, values[:, whole]))
        results.append((out_labels, result, any_present))
    for bounds, parts in batches.items():
        columns = np.hstack([cols for _, _, cols in parts])
        quantiles = np.concatenate([q[whole] for _, whole, _ in parts])
        computed = _quantile_columns(quantiles, list(bounds), columns)
        at = 0
        for index, whole, cols in parts:
            results[index][1][whole] = computed[at : at + cols.shape[1]]
            at += cols.shape[1]
    return merge_same_labels([StepSeries(lbl, v, p) for lbl, v, p in results])


def _almost_equal(a: FloatArray, b: FloatArray, epsilon: float) -> BoolArray:
    """``mathutil.almost_equal`` element-wise."""
    with np.errstate(all="ignore"):
        abs_sum = np.abs(a) + np.abs(b)
        diff = np.abs(a - b)
        tiny = (a == 0) | (b == 0) | (abs_sum < MIN_NORMAL)
        relative = diff / np.minimum(abs_sum, np.finfo(np.float64).max)
        close = np.where(tiny, diff < epsilon * MIN_NORMAL, relative < epsilon)
    out: BoolArray = (np.isnan(a) & np.isnan(b)) | (a == b) | close
    return out


def _quantile_columns(q: FloatArray, bounds: list[float], counts: FloatArray) -> FloatArray:
    """``bucket_quantile`` for many steps at once; ``bounds`` ascending, counts (bucket x step)."""
    steps = counts.shape[1]
    ub = np.asarray(bounds)
    # Coalesce equal bounds (rows are sorted, so equal bounds are adjacent).
    firsts = np.concatenate(([0], np.nonzero(ub[1:] != ub[:-1])[0] + 1))
    ub = ub[firsts]
    merged = np.add.reduceat(counts, firsts, axis=0)
    with np.errstate(all="ignore"):
        # Force monotonicity, ignoring tiny float differences in either direction.
        prev = merged[0].copy()
        for i in range(1, len(ub)):
            cur = merged[i]
            same = cur == prev
            fix = ~same & (_almost_equal(prev, cur, _SMALL_DELTA_TOLERANCE) | (cur < prev))
            merged[i] = np.where(fix, prev, cur)
            prev = np.where(same | fix, prev, cur)
        result = np.full(steps, np.nan)
        if len(ub) >= 2 and math.isinf(ub[-1]) and ub[-1] > 0:
            observations = merged[-1]
            rank = q * observations
            reached = merged[:-1] >= rank
            b = np.where(reached.any(axis=0), np.argmax(reached, axis=0), len(ub) - 1)
            prev_b = np.maximum(b - 1, 0)
            has_prev = b > 0
            start = np.where(has_prev, ub[prev_b], 0.0)
            end = ub[np.minimum(b, len(ub) - 1)]
            below = np.where(has_prev, merged[prev_b, np.arange(steps)], 0.0)
            count = merged[np.minimum(b, len(ub) - 1), np.arange(steps)] - below
            result = start + (end - start) * ((rank - below) / count)
            result = np.where(b == len(ub) - 1, ub[-2], result)
            result = np.where((b == 0) & (ub[0] <= 0), ub[0], result)
            result = np.where(observations == 0, np.nan, result)
        result = np.where(q > 1, np.inf, result)
        result = np.where(q < 0, -np.inf, result)
        out: FloatArray = np.where(np.isnan(q), np.nan, result)
    return out
