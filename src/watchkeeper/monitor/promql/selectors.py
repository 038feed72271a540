"""Vector and range selectors: one storage read per selector, then numpy per step.

Prometheus 3 semantics: an instant selector at time ``t`` takes the newest sample in
``(t - lookback, t]`` unless that sample is a stale marker; a range selector
``x[r]`` takes the samples in ``(t - r, t]`` with stale markers dropped.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from watchkeeper.monitor.model import STALE_NAN_BITS, Matcher, Queryable
from watchkeeper.monitor.promql.steps import (
    BoolArray,
    FloatArray,
    IntArray,
    RangeSeries,
    StepSeries,
)

__all__ = ["batch_windows", "fetch", "instant_lookup", "stale_mask", "windows"]


def stale_mask(values: FloatArray) -> BoolArray:
    """Which values are stale markers, compared by bits (a plain NaN is a real value)."""
    out: BoolArray = values.view(np.uint64) == np.uint64(STALE_NAN_BITS)
    return out


def fetch(
    storage: Queryable,
    matchers: Sequence[Matcher],
    mint_ms: int,
    maxt_ms: int,
    *,
    drop_stale: bool,
) -> list[RangeSeries]:
    """Every matching series' samples in ``[mint_ms, maxt_ms]``, sorted by labels."""
    out: list[RangeSeries] = []
    for sd in storage.select(matchers, mint_ms, maxt_ms):
        ts = np.asarray(sd.timestamps, dtype=np.int64)
        vs = np.asarray(sd.values, dtype=np.float64)
        if drop_stale:
            stale = stale_mask(vs)
            if stale.any():
                keep = ~stale
                ts, vs = ts[keep], vs[keep]
        if len(ts):
            out.append(RangeSeries(sd.labels, ts, vs))
    out.sort(key=lambda s: s.labels)
    return out


def instant_lookup(
    series: RangeSeries, ends: IntArray, lookback_ms: int
) -> tuple[StepSeries, IntArray]:
    """The series' value at each step's time, and the timestamps of the samples used."""
    ts, vs = series.timestamps, series.values
    idx = np.searchsorted(ts, ends, side="right") - 1
    present = idx >= 0
    safe = np.where(present, idx, 0)
    sample_ts = ts[safe]
    values = vs[safe]
    present &= sample_ts > ends - lookback_ms
    present &= ~stale_mask(values)
    return StepSeries(series.labels, values, present), sample_ts


def windows(series: RangeSeries, ends: IntArray, range_ms: int) -> tuple[IntArray, IntArray]:
    """Per step, the half-open index range ``[lo, hi)`` of samples in ``(end - range, end]``."""
    ts = series.timestamps
    lo = np.searchsorted(ts, ends - range_ms, side="right").astype(np.int64)
    hi = np.searchsorted(ts, ends, side="right").astype(np.int64)
    return lo, hi


def batch_windows(
    series: list[RangeSeries], ends: IntArray, range_ms: int
) -> tuple[IntArray, FloatArray, IntArray, IntArray]:
    """All series' samples concatenated, and per (series, step) the window ``[lo, hi)``.

    ``ends`` never decreases (steps ascend; with ``@`` it is constant), so instead
    of a binary search per (series, step) each sample is placed once among the
    steps and the per-series counts are accumulated along the steps:
    ``hi[i, k]`` = start of series i + number of its samples with ``t <= ends[k]``.
    """
    ts_all = np.concatenate([s.timestamps for s in series])
    vs_all = np.concatenate([s.values for s in series])
    counts = np.array([len(s.timestamps) for s in series], dtype=np.int64)
    first = np.concatenate(([0], np.cumsum(counts)[:-1]))
    owner = np.repeat(np.arange(len(series), dtype=np.int64), counts)
    lo = first[:, None] + _samples_at_or_before(ts_all, owner, ends - range_ms, len(series))
    hi = first[:, None] + _samples_at_or_before(ts_all, owner, ends, len(series))
    return ts_all, vs_all, lo, hi


def _samples_at_or_before(
    ts_all: IntArray, owner: IntArray, limits: IntArray, n_series: int
) -> IntArray:
    """Per series i and step k: how many of i's samples have ``t <= limits[k]``."""
    steps = len(limits)
    # A sample with t <= limits[k] counts for every step k >= first_step.
    first_step = np.searchsorted(limits, ts_all, side="left")
    hist = np.bincount(owner * (steps + 1) + first_step, minlength=n_series * (steps + 1))
    out: IntArray = np.cumsum(hist.reshape(n_series, steps + 1), axis=1)[:, :steps]
    return out
