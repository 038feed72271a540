"""Aggregation operators (``sum by (job) (...)`` and friends), all steps at once per group."""

from __future__ import annotations

import math
import re

import numpy as np

from watchkeeper.errors import QueryError
from watchkeeper.monitor.model import Labels
from watchkeeper.monitor.promql import mathutil
from watchkeeper.monitor.promql.steps import BoolArray, FloatArray, StepSeries

__all__ = ["aggregate", "format_value"]

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def _group_labels(labels: Labels, grouping: tuple[str, ...], without: bool) -> Labels:
    if without:
        drop = set(grouping) | {"__name__"}
        return tuple(p for p in labels if p[0] not in drop)
    keep = set(grouping)
    return tuple(p for p in labels if p[0] in keep)


def _groups(
    series: list[StepSeries], grouping: tuple[str, ...], without: bool
) -> dict[Labels, list[StepSeries]]:
    groups: dict[Labels, list[StepSeries]] = {}
    for s in series:
        groups.setdefault(_group_labels(s.labels, grouping, without), []).append(s)
    return groups


def format_value(f: float) -> str:
    """Go's strconv.FormatFloat(f, 'f', -1, 64): shortest digits, never an exponent."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    return str(np.format_float_positional(f, trim="-"))


def aggregate(
    op: str,
    series: list[StepSeries],
    grouping: tuple[str, ...],
    without: bool,
    param: FloatArray | str | None,
    steps: int,
) -> list[StepSeries]:
    if op in ("topk", "bottomk"):
        assert isinstance(param, np.ndarray)
        return _topk(series, grouping, without, param, steps, bottom=op == "bottomk")
    if op == "count_values":
        assert isinstance(param, str)
        return _count_values(series, grouping, without, param, steps)
    if op in _GROUPED:
        return _grouped(op, series, grouping, without, steps)
    out: list[StepSeries] = []
    for labels, members in _groups(series, grouping, without).items():
        values = np.vstack([s.values for s in members])
        present = np.vstack([s.present for s in members])
        any_present: BoolArray = np.asarray(present.any(axis=0), dtype=np.bool_)
        with np.errstate(all="ignore"):
            if op == "quantile":
                assert isinstance(param, np.ndarray)
                result = _quantile(values, present, any_present, param)
            else:
                result = _REDUCERS[op](values, present)
        out.append(StepSeries(labels, result, any_present))
    return out


# Above this ratio of sum(|v|) to |sum(v)|, plain float summation may lose digits
# that Prometheus' Kahan summation keeps: such cells are recomputed exactly.
_ILL_CONDITIONED = 1e3

_GROUPED = frozenset({"sum", "avg", "count", "group", "min", "max"})


def _grouped(
    op: str,
    series: list[StepSeries],
    grouping: tuple[str, ...],
    without: bool,
    steps: int,
) -> list[StepSeries]:
    """The common aggregations for all groups at once, with numpy's ``reduceat``.

    Series are sorted by group so that each group is one contiguous block of rows.
    """
    if not series:
        return []
    keys: dict[Labels, int] = {}
    group_of = np.empty(len(series), dtype=np.int64)
    for i, s in enumerate(series):
        group_of[i] = keys.setdefault(_group_labels(s.labels, grouping, without), len(keys))
    order = np.argsort(group_of, kind="stable")
    starts = np.searchsorted(group_of[order], np.arange(len(keys)))
    values = np.vstack([series[i].values for i in order.tolist()])
    present = np.vstack([series[i].present for i in order.tolist()])
    any_present = np.logical_or.reduceat(present, starts, axis=0)
    count = np.add.reduceat(present.astype(np.float64), starts, axis=0)
    with np.errstate(all="ignore"):
        if op in ("sum", "avg"):
            masked = np.where(present, values, 0.0)
            total = np.add.reduceat(masked, starts, axis=0)
            magnitude = np.add.reduceat(np.abs(masked), starts, axis=0)
            result = total if op == "sum" else total / np.maximum(count, 1)
            redo = any_present & (
                ~np.isfinite(total) | (magnitude > _ILL_CONDITIONED * np.abs(total))
            )
            bounds = [*starts.tolist(), len(order)]
            for g, k in zip(*np.nonzero(redo), strict=True):
                rows = slice(bounds[g], bounds[g + 1])
                col = values[rows, k][present[rows, k]].tolist()
                exact = mathutil.kahan_sum(col) if op == "sum" else mathutil.mean(col)
                result[g, k] = exact
        elif op == "count":
            result = count
        elif op == "group":
            result = np.ones_like(count)
        else:
            # fmin/fmax skip NaN, so NaN results only when every present value is NaN.
            reduce = np.fmin if op == "min" else np.fmax
            result = reduce.reduceat(np.where(present, values, np.nan), starts, axis=0)
    labels = list(keys)
    return [StepSeries(labels[g], result[g], any_present[g]) for g in range(len(keys))]


def _welford(values: FloatArray, present: BoolArray) -> FloatArray:
    """Sum of squared deviations as Prometheus accumulates it (NaN/Inf first value poisons)."""
    steps = values.shape[1]
    count = np.zeros(steps)
    avg = np.zeros(steps)
    acc = np.zeros(steps)
    for row, mask in zip(values, present, strict=True):
        first = mask & (count == 0)
        later = mask & (count > 0)
        avg = np.where(first, row, avg)
        acc = np.where(first, np.where(np.isfinite(row), 0.0, np.nan), acc)
        new_count = count + later
        delta = row - avg
        new_avg = avg + delta / np.maximum(new_count, 1)
        acc = np.where(later, acc + delta * (row - new_avg), acc)
        avg = np.where(later, new_avg, avg)
        count = np.where(first, 1.0, new_count)
    out: FloatArray = acc / np.maximum(count, 1)
    return out


def _stdvar(values: FloatArray, present: BoolArray) -> FloatArray:
    return _welford(values, present)


def _stddev(values: FloatArray, present: BoolArray) -> FloatArray:
    out: FloatArray = np.sqrt(_welford(values, present))
    return out


_REDUCERS = {
    "stddev": _stddev,
    "stdvar": _stdvar,
}


def _quantile(
    values: FloatArray, present: BoolArray, any_present: BoolArray, q: FloatArray
) -> FloatArray:
    out = np.zeros(values.shape[1])
    for i in np.nonzero(any_present)[0].tolist():
        out[i] = mathutil.quantile(float(q[i]), values[present[:, i], i].tolist())
    return out


def _k_of(value: float) -> int:
    """topk/bottomk's k, truncated like Go's int64(); NaN and huge values are errors."""
    if math.isnan(value) or abs(value) >= 2**63:
        shown = "NaN" if math.isnan(value) else repr(value).replace("inf", "Inf")
        raise QueryError(f"Scalar value {shown} overflows int64", "execution")
    return int(value)


def _topk(
    series: list[StepSeries],
    grouping: tuple[str, ...],
    without: bool,
    k_values: FloatArray,
    steps: int,
    *,
    bottom: bool,
) -> list[StepSeries]:
    ks = [_k_of(k) for k in k_values.tolist()]
    out: list[StepSeries] = []
    for members in _groups(series, grouping, without).values():
        chosen = np.zeros((len(members), steps), dtype=np.bool_)
        order_at_first: list[int] = []
        values = np.vstack([s.values for s in members])
        present = np.vstack([s.present for s in members])
        for i in range(steps):
            k = ks[i]
            if k < 1:
                continue
            idx = np.nonzero(present[:, i])[0].tolist()
            col = values[:, i]

            # NaN ranks last either way: topk keeps the biggest, bottomk the smallest.
            def rank(j: int, col: FloatArray = col) -> tuple[bool, float]:
                v = float(col[j])
                if v != v:
                    return (True, 0.0)
                return (False, v if bottom else -v)

            picked = sorted(idx, key=rank)[:k]
            chosen[picked, i] = True
            if i == 0:
                order_at_first = picked
        order = order_at_first + [j for j in range(len(members)) if j not in order_at_first]
        for j in order:
            if chosen[j].any():
                out.append(StepSeries(members[j].labels, members[j].values, chosen[j]))
    return out


def _count_values(
    series: list[StepSeries],
    grouping: tuple[str, ...],
    without: bool,
    label: str,
    steps: int,
) -> list[StepSeries]:
    if not _LABEL_NAME.match(label):
        raise QueryError(f'invalid label name "{label}"', "execution")
    counts: dict[Labels, FloatArray] = {}
    for s in series:
        for i in np.nonzero(s.present)[0].tolist():
            labels = dict(s.labels)
            labels[label] = format_value(float(s.values[i]))
            key = _group_labels(
                tuple(sorted(labels.items())),
                (*grouping, label) if not without else grouping,
                without,
            )
            if without:
                key = tuple(sorted({**dict(key), label: labels[label]}.items()))
            arr = counts.get(key)
            if arr is None:
                arr = np.zeros(steps)
                counts[key] = arr
            arr[i] += 1
    return [StepSeries(k, v, v > 0) for k, v in counts.items()]
