"""Floating-point helpers that reproduce Prometheus' numerics bit for bit where it matters.

Prometheus sums with Kahan-Neumaier compensation and averages by direct mean that
switches to an incremental mean when the running sum would overflow; quantiles
interpolate between ranks with NaNs sorted first. Matching these keeps our answers
equal to Prometheus' for the pathological inputs its own tests use (1e100 + 1 - 1e100).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = [
    "almost_equal",
    "go_div",
    "kahan_inc",
    "kahan_sum",
    "mean",
    "quantile",
    "variance",
]

MIN_NORMAL = 2.2250738585072014e-308


def go_div(a: float, b: float) -> float:
    """IEEE division as Go does it: x/0 is +-Inf and 0/0 is NaN instead of an exception."""
    try:
        return a / b
    except ZeroDivisionError:
        if a != a or a == 0:
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)


def kahan_inc(inc: float, total: float, c: float) -> tuple[float, float]:
    t = total + inc
    if math.isinf(t):
        c = 0.0
    elif abs(total) >= abs(inc):
        c += (total - t) + inc
    else:
        c += (inc - t) + total
    return t, c


def kahan_sum(values: Sequence[float]) -> float:
    total, c = 0.0, 0.0
    for v in values:
        total, c = kahan_inc(v, total, c)
    if math.isinf(total):
        return total
    return total + c


def mean(values: Sequence[float]) -> float:
    """Prometheus' avg: Kahan-compensated direct mean, incremental once the sum would overflow."""
    total, c = values[0], 0.0
    avg = values[0]
    incremental = False
    count = 1.0
    for f in values[1:]:
        count += 1
        if not incremental:
            new_total, new_c = kahan_inc(f, total, c)
            if not math.isinf(new_total):
                total, c = new_total, new_c
                continue
            incremental = True
            avg = total / (count - 1)
            c /= count - 1
        if math.isinf(avg):
            if math.isinf(f) and (avg > 0) == (f > 0):
                continue
            if not math.isinf(f) and not math.isnan(f):
                continue
        current = avg + c
        avg, c = kahan_inc(f / count - current / count, avg, c)
    if incremental:
        return avg + c
    return (total + c) / count


def variance(values: Sequence[float]) -> float:
    """Population variance as ``stdvar_over_time`` computes it (Welford with compensation)."""
    count = 0.0
    avg, c_avg = 0.0, 0.0
    aux, c_aux = 0.0, 0.0
    for f in values:
        count += 1
        delta = f - (avg + c_avg)
        avg, c_avg = kahan_inc(delta / count, avg, c_avg)
        aux, c_aux = kahan_inc(delta * (f - (avg + c_avg)), aux, c_aux)
    return (aux + c_aux) / count


def _nan_first(values: Sequence[float]) -> list[float]:
    nans = [v for v in values if v != v]
    return nans + sorted(v for v in values if v == v)


def quantile(q: float, values: Sequence[float]) -> float:
    """The q-quantile with linear interpolation between ranks, as Prometheus' ``quantile``."""
    if not values or math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    ordered = _nan_first(values)
    n = float(len(ordered))
    rank = q * (n - 1)
    lower = max(0.0, math.floor(rank))
    upper = min(n - 1, lower + 1)
    weight = rank - math.floor(rank)
    return ordered[int(lower)] * (1 - weight) + ordered[int(upper)] * weight


def almost_equal(a: float, b: float, epsilon: float) -> bool:
    """Prometheus' ``almost.Equal``: relative comparison, NaN equal to NaN."""
    if math.isnan(a) and math.isnan(b):
        return True
    if a == b:
        return True
    abs_sum = abs(a) + abs(b)
    diff = abs(a - b)
    if a == 0 or b == 0 or abs_sum < MIN_NORMAL:
        return diff < epsilon * MIN_NORMAL
    return diff / min(abs_sum, 1.7976931348623157e308) < epsilon
