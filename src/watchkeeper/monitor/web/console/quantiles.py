"""p50/p95/p99 from one range query of bucket rates.

Three ``histogram_quantile`` queries would compute the same ``sum by (le)
(rate(..._bucket[w]))`` three times, and that rate over every bucket series is
nearly all of the cost. The console asks for the bucket rates once and applies the
engine's own ``histogram_quantile`` (``promql.histogram``) for each quantile, so
the numbers are exactly what the PromQL function gives.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from watchkeeper.monitor.promql.histogram import histogram_quantile
from watchkeeper.monitor.promql.steps import StepSeries
from watchkeeper.monitor.promql.value import Matrix, Series

__all__ = ["QUANTILES", "quantiles_from_buckets"]

QUANTILES: Mapping[str, float] = {"p50": 0.5, "p95": 0.95, "p99": 0.99}


def quantiles_from_buckets(
    buckets: Matrix,
    start_ms: int,
    end_ms: int,
    step_ms: int,
    quantiles: Mapping[str, float] = QUANTILES,
) -> Matrix:
    """One series per quantile (label ``q``) and bucket group, on the query's steps."""
    n = (end_ms - start_ms) // step_ms + 1
    steps: list[StepSeries] = []
    for s in buckets.series:
        values = np.full(n, np.nan)
        present = np.zeros(n, dtype=np.bool_)
        if s.points:
            pts = np.asarray(s.points, dtype=np.float64)
            idx = np.rint((pts[:, 0] - start_ms) / step_ms).astype(np.int64)
            ok = (idx >= 0) & (idx < n)
            values[idx[ok]] = pts[ok, 1]
            present[idx[ok]] = True
        steps.append(StepSeries(s.labels, values, present))
    out = Matrix()
    if not steps:
        return out
    times = start_ms + np.arange(n, dtype=np.int64) * step_ms
    for name, q in quantiles.items():
        for r in histogram_quantile(np.full(n, q), steps):
            at = np.nonzero(r.present)[0]
            points = list(zip(times[at].tolist(), r.values[at].tolist(), strict=True))
            out.series.append(Series((*r.labels, ("q", name)), points))
    return out
