"""``histogram_quantile`` over classic (``le``-labelled) buckets, as Prometheus' BucketQuantile."""

from __future__ import annotations

import math

import numpy as np

from watchkeeper.monitor.model import Labels
from watchkeeper.monitor.promql.mathutil import almost_equal, go_div
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
    out: list[StepSeries] = []
    steps = len(q)
    for out_labels, members in groups.values():
        bounds = [le for le, _ in members]
        values = np.vstack([s.values for _, s in members])
        present = np.vstack([s.present for _, s in members])
        any_present: BoolArray = np.asarray(present.any(axis=0), dtype=np.bool_)
        result = np.zeros(steps, dtype=np.float64)
        qs = q.tolist()
        for i in np.nonzero(any_present)[0].tolist():
            col_p = present[:, i]
            col_v = values[:, i]
            buckets = [(bounds[j], float(col_v[j])) for j in range(len(bounds)) if col_p[j]]
            result[i] = bucket_quantile(qs[i], buckets)
        out.append(StepSeries(out_labels, result, any_present))
    return merge_same_labels(out)
