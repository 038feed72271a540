"""The PromQL engine: evaluates our syntax tree over all steps of a query at once.

Every node is evaluated for the whole array of step timestamps: selectors read
storage once for the query window and are then sliced per step with numpy, which
is what makes range queries affordable in Python. Semantics follow Prometheus 3
(promql/engine.go); the modules next to this one hold the functions, aggregations
and binary operators.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from watchkeeper.errors import QueryError
from watchkeeper.monitor.model import Labels, MatchType, Queryable
from watchkeeper.monitor.promql import functions as fn
from watchkeeper.monitor.promql.aggregations import aggregate
from watchkeeper.monitor.promql.ast import (
    Aggregate,
    AtSpec,
    Binary,
    Call,
    Expr,
    MatrixSel,
    NumberLit,
    StringLit,
    Subquery,
    Unary,
    VectorSel,
    value_type,
)
from watchkeeper.monitor.promql.binops import (
    scalar_binop,
    vector_binop,
    vector_scalar_binop,
)
from watchkeeper.monitor.promql.histogram import histogram_quantile
from watchkeeper.monitor.promql.parser import parse
from watchkeeper.monitor.promql.rangefuncs import KEEPS_NAME, RANGE_FUNCTIONS, RangeCtx
from watchkeeper.monitor.promql.selectors import batch_windows, fetch, instant_lookup, windows
from watchkeeper.monitor.promql.steps import (
    Evaluated,
    FloatArray,
    IntArray,
    RangeArg,
    RangeSeries,
    ScalarSteps,
    StepSeries,
    StringValue,
    VectorSteps,
    drop_name,
    merge_same_labels,
)
from watchkeeper.monitor.promql.value import (
    Matrix,
    Sample,
    Scalar,
    Series,
    String,
    Value,
    Vector,
)

__all__ = ["Engine"]

MAX_POINTS_PER_SERIES = 11_000


class Engine:
    """Evaluates PromQL against a ``Queryable``; one instance serves many queries."""

    def __init__(
        self,
        storage: Queryable,
        *,
        lookback_delta_ms: int = 300_000,
        max_samples: int = 50_000_000,
        timeout_s: float = 120.0,
        no_step_subquery_interval_ms: int = 60_000,
    ) -> None:
        self.storage = storage
        self.lookback_delta_ms = lookback_delta_ms
        self.max_samples = max_samples
        self.timeout_s = timeout_s
        self.no_step_subquery_interval_ms = no_step_subquery_interval_ms

    def instant_query(self, expr: str, time_ms: int) -> Value:
        tree = parse(expr)
        ev = _Evaluator(self, time_ms, time_ms)
        ts = np.array([time_ms], dtype=np.int64)
        result = ev.eval(tree, ts)
        if isinstance(result, ScalarSteps):
            return Scalar(time_ms, float(result.values[0]))
        if isinstance(result, StringValue):
            return String(time_ms, result.value)
        if isinstance(result, RangeArg):
            return _window_matrix(result)
        return Vector(
            [Sample(s.labels, time_ms, float(s.values[0])) for s in result.series if s.present[0]]
        )

    def range_query(self, expr: str, start_ms: int, end_ms: int, step_ms: int) -> Matrix:
        if end_ms < start_ms:
            raise QueryError("end timestamp must not be before start time", "bad_data")
        if step_ms <= 0:
            raise QueryError(
                "zero or negative query resolution step widths are not accepted. "
                "Try a positive integer",
                "bad_data",
            )
        if (end_ms - start_ms) // step_ms > MAX_POINTS_PER_SERIES:
            raise QueryError(
                "exceeded maximum resolution of 11,000 points per timeseries. "
                "Try decreasing the query resolution (?step=XX)",
                "bad_data",
            )
        tree = parse(expr)
        kind = value_type(tree)
        if kind not in ("scalar", "vector"):
            shown = "range vector" if kind == "matrix" else kind
            raise QueryError(
                f'invalid expression type "{shown}" for range query, '
                "must be Scalar or instant Vector",
                "bad_data",
            )
        ts = np.arange(start_ms, end_ms + 1, step_ms, dtype=np.int64)
        ev = _Evaluator(self, start_ms, end_ms)
        result = ev.eval(tree, ts)
        if isinstance(result, ScalarSteps):
            points = list(zip(ts.tolist(), result.values.tolist(), strict=True))
            return Matrix([Series((), points)])
        assert isinstance(result, VectorSteps)
        out = []
        for s in result.series:
            if not s.present.any():
                continue
            out.append(
                Series(
                    s.labels,
                    list(zip(ts[s.present].tolist(), s.values[s.present].tolist(), strict=True)),
                )
            )
        out.sort(key=lambda s: s.labels)
        return Matrix(out)


def _window_matrix(arg: RangeArg) -> Matrix:
    end = arg.ends[:1]
    out = []
    for s in arg.series:
        lo, hi = windows(s, end, arg.range_ms)
        a, b = int(lo[0]), int(hi[0])
        if b > a:
            points = list(zip(s.timestamps[a:b].tolist(), s.values[a:b].tolist(), strict=True))
            out.append(Series(s.labels, points))
    out.sort(key=lambda s: s.labels)
    return Matrix(out)


@dataclass(slots=True)
class _Evaluator:
    engine: Engine
    query_start: int
    query_end: int
    deadline: float = 0.0
    samples: int = 0

    def __post_init__(self) -> None:
        self.deadline = time.monotonic() + self.engine.timeout_s

    # -- bookkeeping -----------------------------------------------------------------

    def _check_time(self) -> None:
        if time.monotonic() >= self.deadline:
            raise QueryError("query timed out in query execution", "timeout")

    def _count(self, n: int) -> None:
        self.samples += n
        if self.samples > self.engine.max_samples:
            raise QueryError(
                "query processing would load too many samples into memory in query execution",
                "execution",
            )

    def _ends(self, at: AtSpec, offset_ms: int, ts: IntArray) -> IntArray:
        """Per step, the time a selector looks at: ``@`` (if any) minus offset."""
        if at is None:
            base = ts
        else:
            when = self.query_start if at == "start" else self.query_end if at == "end" else at
            base = np.full(len(ts), when, dtype=np.int64)
        return base - offset_ms

    # -- dispatch --------------------------------------------------------------------

    def eval(self, e: Expr, ts: IntArray) -> Evaluated:
        self._check_time()
        if isinstance(e, NumberLit):
            return ScalarSteps(np.full(len(ts), e.value, dtype=np.float64))
        if isinstance(e, StringLit):
            return StringValue(e.value)
        if isinstance(e, VectorSel):
            return VectorSteps(self._vector_selector(e, ts)[0])
        if isinstance(e, MatrixSel):
            return self._matrix_selector(e, ts)
        if isinstance(e, Subquery):
            return self._subquery(e, ts)
        if isinstance(e, Call):
            return self._call(e, ts)
        if isinstance(e, Aggregate):
            return self._aggregate(e, ts)
        if isinstance(e, Binary):
            return self._binary(e, ts)
        return self._unary(e, ts)

    def _vector(self, e: Expr, ts: IntArray) -> list[StepSeries]:
        v = self.eval(e, ts)
        assert isinstance(v, VectorSteps), f"expected instant vector, got {type(v).__name__}"
        return v.series

    def _scalar(self, e: Expr, ts: IntArray) -> FloatArray:
        v = self.eval(e, ts)
        assert isinstance(v, ScalarSteps), f"expected scalar, got {type(v).__name__}"
        return v.values

    def _string(self, e: Expr, ts: IntArray) -> str:
        v = self.eval(e, ts)
        assert isinstance(v, StringValue), f"expected string, got {type(v).__name__}"
        return v.value

    # -- selectors -------------------------------------------------------------------

    def _vector_selector(
        self, e: VectorSel, ts: IntArray
    ) -> tuple[list[StepSeries], list[IntArray]]:
        ends = self._ends(e.at, e.offset_ms, ts)
        lookback = self.engine.lookback_delta_ms
        raw = fetch(
            self.engine.storage,
            e.matchers,
            int(ends.min()) - lookback + 1,
            int(ends.max()),
            drop_stale=False,
        )
        out: list[StepSeries] = []
        sample_ts: list[IntArray] = []
        total = 0
        for s in raw:
            series, used = instant_lookup(s, ends, lookback)
            n = int(series.present.sum())
            if n:
                total += n
                out.append(series)
                sample_ts.append(used)
        self._count(total)
        return out, sample_ts

    def _matrix_selector(self, e: MatrixSel, ts: IntArray) -> RangeArg:
        sel = e.selector
        ends = self._ends(sel.at, sel.offset_ms, ts)
        raw = fetch(
            self.engine.storage,
            sel.matchers,
            int(ends.min()) - e.range_ms + 1,
            int(ends.max()),
            drop_stale=True,
        )
        return RangeArg(raw, e.range_ms, ends)

    def _subquery(self, e: Subquery, ts: IntArray) -> RangeArg:
        ends = self._ends(e.at, e.offset_ms, ts)
        step = e.step_ms or self.engine.no_step_subquery_interval_ms
        # Inner steps are aligned to multiples of the step: the first one strictly
        # after the earliest window's (exclusive) start.
        first = int(ends.min()) - e.range_ms
        start = (first // step) * step
        if start <= first:
            start += step
        inner_ts = np.arange(start, int(ends.max()) + 1, step, dtype=np.int64)
        series: list[RangeSeries] = []
        if len(inner_ts):
            for s in self._vector(e.expr, inner_ts):
                if s.present.any():
                    series.append(RangeSeries(s.labels, inner_ts[s.present], s.values[s.present]))
        series.sort(key=lambda s: s.labels)
        return RangeArg(series, e.range_ms, ends)

    # -- functions -------------------------------------------------------------------

    def _call(self, e: Call, ts: IntArray) -> Evaluated:
        name = e.name
        if name in RANGE_FUNCTIONS:
            return VectorSteps(self._range_function(e, ts))
        if name == "absent_over_time":
            return VectorSteps(self._absent_over_time(e, ts))
        if name in fn.ELEMENTWISE:
            return VectorSteps(fn.map_values(self._vector(e.args[0], ts), fn.ELEMENTWISE[name]))
        if name in fn.DATE_FUNCTIONS:
            if e.args:
                series = self._vector(e.args[0], ts)
            else:
                series = [StepSeries((), ts / 1000.0, np.ones(len(ts), dtype=np.bool_))]
            return VectorSteps(fn.map_values(series, lambda v: fn.date_values(name, v)))
        handler = _CALLS.get(name)
        if handler is None:
            raise QueryError(f'function "{name}" is not supported', "bad_data")
        result: Evaluated = handler(self, e, ts)
        return result

    def _range_function(self, e: Call, ts: IntArray) -> list[StepSeries]:
        matrix_index = next(i for i, a in enumerate(e.args) if value_type(a) == "matrix")
        params = [self._scalar(a, ts) for i, a in enumerate(e.args) if i != matrix_index]
        arg = self.eval(e.args[matrix_index], ts)
        assert isinstance(arg, RangeArg)
        if not arg.series:
            return []
        ctx = RangeCtx(arg.ends, arg.range_ms, ts, params)
        ts_all, vs_all, lo, hi = batch_windows(arg.series, arg.ends, arg.range_ms)
        # Prometheus counts the samples loaded for one step at a time.
        self._count(int((hi - lo).sum(axis=0).max()))
        values, present = RANGE_FUNCTIONS[e.name](ts_all, vs_all, lo, hi, ctx)
        self._check_time()
        keep_name = e.name in KEEPS_NAME
        out: list[StepSeries] = []
        for i, s in enumerate(arg.series):
            if present[i].any():
                labels = s.labels if keep_name else drop_name(s.labels)
                out.append(StepSeries(labels, values[i], present[i]))
        return merge_same_labels(out)

    def _absent_over_time(self, e: Call, ts: IntArray) -> list[StepSeries]:
        arg = self.eval(e.args[0], ts)
        assert isinstance(arg, RangeArg)
        seen = np.zeros(len(ts), dtype=np.bool_)
        for s in arg.series:
            lo, hi = windows(s, arg.ends, arg.range_ms)
            seen |= hi > lo
        target = e.args[0]
        labels = _absent_labels(target.selector if isinstance(target, MatrixSel) else None)
        return [StepSeries(labels, np.ones(len(ts)), ~seen)]

    def call_absent(self, e: Call, ts: IntArray) -> Evaluated:
        seen = np.zeros(len(ts), dtype=np.bool_)
        for s in self._vector(e.args[0], ts):
            seen |= s.present
        target = e.args[0]
        labels = _absent_labels(target if isinstance(target, VectorSel) else None)
        return VectorSteps([StepSeries(labels, np.ones(len(ts)), ~seen)])

    def call_timestamp(self, e: Call, ts: IntArray) -> Evaluated:
        target = e.args[0]
        if isinstance(target, VectorSel):
            series, used = self._vector_selector(target, ts)
            out = [
                StepSeries(drop_name(s.labels), u / 1000.0, s.present)
                for s, u in zip(series, used, strict=True)
            ]
        else:
            out = [
                StepSeries(drop_name(s.labels), ts / 1000.0, s.present)
                for s in self._vector(target, ts)
            ]
        return VectorSteps(merge_same_labels(out))

    def call_round(self, e: Call, ts: IntArray) -> Evaluated:
        series = self._vector(e.args[0], ts)
        nearest = self._scalar(e.args[1], ts) if len(e.args) > 1 else np.ones(len(ts))
        return VectorSteps(fn.round_to(series, nearest))

    def call_clamp(self, e: Call, ts: IntArray) -> Evaluated:
        series = self._vector(e.args[0], ts)
        return VectorSteps(
            fn.clamp(series, self._scalar(e.args[1], ts), self._scalar(e.args[2], ts))
        )

    def call_clamp_min(self, e: Call, ts: IntArray) -> Evaluated:
        series = self._vector(e.args[0], ts)
        lo = self._scalar(e.args[1], ts)
        return VectorSteps(fn.map_values(series, lambda v: np.maximum(lo, v)))

    def call_clamp_max(self, e: Call, ts: IntArray) -> Evaluated:
        series = self._vector(e.args[0], ts)
        hi = self._scalar(e.args[1], ts)
        return VectorSteps(fn.map_values(series, lambda v: np.minimum(hi, v)))

    def call_vector(self, e: Call, ts: IntArray) -> Evaluated:
        values = self._scalar(e.args[0], ts)
        return VectorSteps([StepSeries((), values, np.ones(len(ts), dtype=np.bool_))])

    def call_scalar(self, e: Call, ts: IntArray) -> Evaluated:
        series = self._vector(e.args[0], ts)
        out = np.full(len(ts), np.nan)
        if series:
            present = np.vstack([s.present for s in series])
            values = np.vstack([s.values for s in series])
            single = present.sum(axis=0) == 1
            picked = np.argmax(present, axis=0)
            chosen = values[picked, np.arange(len(ts))]
            out = np.where(single, chosen, np.nan)
        return ScalarSteps(out)

    def call_time(self, e: Call, ts: IntArray) -> Evaluated:
        return ScalarSteps(ts / 1000.0)

    def call_pi(self, e: Call, ts: IntArray) -> Evaluated:
        return ScalarSteps(np.full(len(ts), np.pi))

    def call_sort(self, e: Call, ts: IntArray) -> Evaluated:
        return VectorSteps(fn.sort_series(self._vector(e.args[0], ts), descending=False))

    def call_sort_desc(self, e: Call, ts: IntArray) -> Evaluated:
        return VectorSteps(fn.sort_series(self._vector(e.args[0], ts), descending=True))

    def call_sort_by_label(self, e: Call, ts: IntArray) -> Evaluated:
        names = [self._string(a, ts) for a in e.args[1:]]
        series = self._vector(e.args[0], ts)
        return VectorSteps(fn.sort_by_label(series, names, descending=False))

    def call_sort_by_label_desc(self, e: Call, ts: IntArray) -> Evaluated:
        names = [self._string(a, ts) for a in e.args[1:]]
        series = self._vector(e.args[0], ts)
        return VectorSteps(fn.sort_by_label(series, names, descending=True))

    def call_label_replace(self, e: Call, ts: IntArray) -> Evaluated:
        series = self._vector(e.args[0], ts)
        dst, repl, src, regex = (self._string(a, ts) for a in e.args[1:5])
        return VectorSteps(fn.label_replace(series, dst, repl, src, regex))

    def call_label_join(self, e: Call, ts: IntArray) -> Evaluated:
        series = self._vector(e.args[0], ts)
        dst, sep = self._string(e.args[1], ts), self._string(e.args[2], ts)
        srcs = [self._string(a, ts) for a in e.args[3:]]
        return VectorSteps(fn.label_join(series, dst, sep, srcs))

    def call_histogram_quantile(self, e: Call, ts: IntArray) -> Evaluated:
        q = self._scalar(e.args[0], ts)
        return VectorSteps(histogram_quantile(q, self._vector(e.args[1], ts)))

    # -- operators -------------------------------------------------------------------

    def _aggregate(self, e: Aggregate, ts: IntArray) -> Evaluated:
        param: FloatArray | str | None = None
        if e.op in ("topk", "bottomk", "quantile"):
            assert e.param is not None
            param = self._scalar(e.param, ts)
        elif e.op == "count_values":
            assert e.param is not None
            param = self._string(e.param, ts)
        elif e.op not in ("sum", "avg", "min", "max", "count", "stddev", "stdvar", "group"):
            raise QueryError(f'aggregation "{e.op}" is not supported', "bad_data")
        series = self._vector(e.expr, ts)
        return VectorSteps(aggregate(e.op, series, e.grouping, e.without, param, len(ts)))

    def _binary(self, e: Binary, ts: IntArray) -> Evaluated:
        lhs = self.eval(e.lhs, ts)
        rhs = self.eval(e.rhs, ts)
        if isinstance(lhs, ScalarSteps) and isinstance(rhs, ScalarSteps):
            return ScalarSteps(scalar_binop(e.op, lhs.values, rhs.values))
        if isinstance(lhs, VectorSteps) and isinstance(rhs, ScalarSteps):
            return VectorSteps(vector_scalar_binop(e, lhs.series, rhs.values, scalar_left=False))
        if isinstance(lhs, ScalarSteps) and isinstance(rhs, VectorSteps):
            return VectorSteps(vector_scalar_binop(e, rhs.series, lhs.values, scalar_left=True))
        assert isinstance(lhs, VectorSteps)
        assert isinstance(rhs, VectorSteps)
        return VectorSteps(vector_binop(e, lhs.series, rhs.series))

    def _unary(self, e: Unary, ts: IntArray) -> Evaluated:
        inner = self.eval(e.expr, ts)
        if isinstance(inner, ScalarSteps):
            return ScalarSteps(-inner.values)
        assert isinstance(inner, VectorSteps)
        return VectorSteps(
            merge_same_labels(
                [StepSeries(drop_name(s.labels), -s.values, s.present) for s in inner.series]
            )
        )


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


_CALLS: dict[str, Callable[[_Evaluator, Call, IntArray], Evaluated]] = {
    name[len("call_") :]: getattr(_Evaluator, name)
    for name in dir(_Evaluator)
    if name.startswith("call_")
}
