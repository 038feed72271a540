"""Function calls: ``rate(x[5m])``, ``abs(x)``, ``label_replace(...)``, ...

``evaluate_call`` dispatches on the function's name: range-vector functions go to
``rangefuncs`` over all series at once, element-wise math to numpy, and the rest
to one ``call_<name>`` handler each, below.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from watchkeeper.errors import QueryError
from watchkeeper.monitor.model import Labels, MatchType
from watchkeeper.monitor.promql import functions as fn
from watchkeeper.monitor.promql.ast import Call, MatrixSel, VectorSel, value_type
from watchkeeper.monitor.promql.histogram import histogram_quantile
from watchkeeper.monitor.promql.rangefuncs import KEEPS_NAME, RANGE_FUNCTIONS, RangeCtx
from watchkeeper.monitor.promql.selectors import batch_windows, windows
from watchkeeper.monitor.promql.steps import (
    Evaluated,
    IntArray,
    RangeArg,
    ScalarSteps,
    StepSeries,
    VectorSteps,
    drop_name,
    merge_same_labels,
    require_unique_labels,
)

if TYPE_CHECKING:
    from watchkeeper.monitor.promql.engine import Evaluator

__all__ = ["evaluate_call"]


def evaluate_call(ev: Evaluator, e: Call, ts: IntArray) -> Evaluated:
    name = e.name
    if name in RANGE_FUNCTIONS:
        return VectorSteps(_range_function(ev, e, ts))
    if name == "absent_over_time":
        return VectorSteps(_absent_over_time(ev, e, ts))
    if name in fn.ELEMENTWISE:
        return VectorSteps(fn.map_values(ev.vector(e.args[0], ts), fn.ELEMENTWISE[name]))
    if name in fn.DATE_FUNCTIONS:
        if e.args:
            series = ev.vector(e.args[0], ts)
        else:
            series = [StepSeries((), ts / 1000.0, np.ones(len(ts), dtype=np.bool_))]
        return VectorSteps(fn.map_values(series, lambda v: fn.date_values(name, v)))
    handler = _CALLS.get(name)
    if handler is None:
        raise QueryError(f'function "{name}" is not supported', "bad_data")
    result: Evaluated = handler(ev, e, ts)
    return result


def _range_function(ev: Evaluator, e: Call, ts: IntArray) -> list[StepSeries]:
    matrix_index = next(i for i, a in enumerate(e.args) if value_type(a) == "matrix")
    params = [ev.scalar(a, ts) for i, a in enumerate(e.args) if i != matrix_index]
    arg = ev.eval(e.args[matrix_index], ts)
    assert isinstance(arg, RangeArg)
    if not arg.series:
        return []
    ctx = RangeCtx(arg.ends, arg.range_ms, ts, params, ev.check_time)
    ts_all, vs_all, lo, hi = batch_windows(arg.series, arg.ends, arg.range_ms)
    # Prometheus loads one series' window at a time, then keeps only the result.
    ev.count_samples(int((hi - lo).max()), transient=True)
    values, present = RANGE_FUNCTIONS[e.name](ts_all, vs_all, lo, hi, ctx)
    ev.count_samples(int(present.sum()))
    ev.check_time()
    keep_name = e.name in KEEPS_NAME
    out: list[StepSeries] = []
    for i, s in enumerate(arg.series):
        if present[i].any():
            labels = s.labels if keep_name else drop_name(s.labels)
            out.append(StepSeries(labels, values[i], present[i]))
    return require_unique_labels(out)


def _absent_over_time(ev: Evaluator, e: Call, ts: IntArray) -> list[StepSeries]:
    arg = ev.eval(e.args[0], ts)
    assert isinstance(arg, RangeArg)
    seen = np.zeros(len(ts), dtype=np.bool_)
    for s in arg.series:
        lo, hi = windows(s, arg.ends, arg.range_ms)
        seen |= hi > lo
    target = e.args[0]
    labels = _absent_labels(target.selector if isinstance(target, MatrixSel) else None)
    return [StepSeries(labels, np.ones(len(ts)), ~seen)]


def call_absent(ev: Evaluator, e: Call, ts: IntArray) -> Evaluated:
    seen = np.zeros(len(ts), dtype=np.bool_)
    for s in ev.vector(e.args[0], ts):
        seen |= s.present
    target = e.args[0]
    labels = _absent_labels(target if isinstance(target, VectorSel) else None)
    return VectorSteps([StepSeries(labels, np.ones(len(ts)), ~seen)])


def call_timestamp(ev: Evaluator, e: Call, ts: IntArray) -> Evaluated:
    target = e.args[0]
    if isinstance(target, VectorSel):
        series, used = ev.vector_selector(target, ts)
        out = [
            StepSeries(drop_name(s.labels), u / 1000.0, s.present)
            for s, u in zip(series, used, strict=True)
        ]
    else:
        out = [
            StepSeries(drop_name(s.labels), ts / 1000.0, s.present) for s in ev.vector(target, ts)
        ]
    return VectorSteps(merge_same_labels(out))


def call_round(ev: Evaluator, e: Call, ts: IntArray) -> Evaluated:
    series = ev.vector(e.args[0], ts)
    nearest = ev.scalar(e.args[1], ts) if len(e.args) > 1 else np.ones(len(ts))
    return VectorSteps(fn.round_to(series, nearest))


def call_clamp(ev: Evaluator, e: Call, ts: IntArray) -> Evaluated:
    series = ev.vector(e.args[0], ts)
    return VectorSteps(fn.clamp(series, ev.scalar(e.args[1], ts), ev.scalar(e.args[2], ts)))


def call_clamp_min(ev: Evaluator, e: Call, ts: IntArray) -> Evaluated:
    series = ev.vector(e.args[0], ts)
    lo = ev.scalar(e.args[1], ts)
    return VectorSteps(fn.map_values(series, lambda v: np.maximum(lo, v)))


def call_clamp_max(ev: Evaluator, e: Call, ts: IntArray) -> Evaluated:
    series = ev.vector(e.args[0], ts)
    hi = ev.scalar(e.args[1], ts)
    return VectorSteps(fn.map_values(series, lambda v: np.minimum(hi, v)))


def call_vector(ev: Evaluator, e: Call, ts: IntArray) -> Evaluated:
    values = ev.scalar(e.args[0], ts)
    return VectorSteps([StepSeries((), values, np.ones(len(ts), dtype=np.bool_))])


def call_scalar(ev: Evaluator, e: Call, ts: IntArray) -> Evaluated:
    series = ev.vector(e.args[0], ts)
    out = np.full(len(ts), np.nan)
    if series:
        present = np.vstack([s.present for s in series])
        values = np.vstack([s.values for s in series])
        single = present.sum(axis=0) == 1
        picked = np.argmax(present, axis=0)
        chosen = values[picked, np.arange(len(ts))]
        out = np.where(single, chosen, np.nan)
    return ScalarSteps(out)


def call_time(ev: Evaluator, e: Call, ts: IntArray) -> Evaluated:
    return ScalarSteps(ts / 1000.0)


def call_pi(ev: Evaluator, e: Call, ts: IntArray) -> Evaluated:
    return ScalarSteps(np.full(len(ts), np.pi))


def call_sort(ev: Evaluator, e: Call, ts: IntArray) -> Evaluated:
    return VectorSteps(fn.sort_series(ev.vector(e.args[0], ts), descending=False))


def call_sort_desc(ev: Evaluator, e: Call, ts: IntArray) -> Evaluated:
    return VectorSteps(fn.sort_series(ev.vector(e.args[0], ts), descending=True))


def call_sort_by_label(ev: Evaluator, e: Call, ts: IntArray) -> Evaluated:
    names = [ev.string(a, ts) for a in e.args[1:]]
    series = ev.vector(e.args[0], ts)
    return VectorSteps(fn.sort_by_label(series, names, descending=False))


def call_sort_by_label_desc(ev: Evaluator, e: Call, ts: IntArray) -> Evaluated:
    names = [ev.string(a, ts) for a in e.args[1:]]
    series = ev.vector(e.args[0], ts)
    return VectorSteps(fn.sort_by_label(series, names, descending=True))


def call_label_replace(ev: Evaluator, e: Call, ts: IntArray) -> Evaluated:
    series = ev.vector(e.args[0], ts)
    dst, repl, src, regex = (ev.string(a, ts) for a in e.args[1:5])
    return VectorSteps(fn.label_replace(series, dst, repl, src, regex))


def call_label_join(ev: Evaluator, e: Call, ts: IntArray) -> Evaluated:
    series = ev.vector(e.args[0], ts)
    dst, sep = ev.string(e.args[1], ts), ev.string(e.args[2], ts)
    srcs = [ev.string(a, ts) for a in e.args[3:]]
    return VectorSteps(fn.label_join(series, dst, sep, srcs))


def call_histogram_quantile(ev: Evaluator, e: Call, ts: IntArray) -> Evaluated:
    q = ev.scalar(e.args[0], ts)
    return VectorSteps(histogram_quantile(q, ev.vector(e.args[1], ts)))


def _absent_labels(sel: VectorSel | None) -> Labels:
    """Labels for absent(): the selector's equality matchers, minus names matched twice."""
    if sel is None:
        return ()
    labels: dict[str, str] = {}
    seen: set[str] = set()
    for m in sel.matchers:
        if m.name == "__name__":
            continue
        if m.type is MatchType.EQUAL and m.name not in seen:
            labels[m.name] = m.value
            seen.add(m.name)
        else:
            labels.pop(m.name, None)
    return tuple(sorted((k, v) for k, v in labels.items() if v))


_CALLS: dict[str, Callable[[Evaluator, Call, IntArray], Evaluated]] = {
    name[len("call_") :]: handler
    for name, handler in list(globals().items())
    if name.startswith("call_")
}
