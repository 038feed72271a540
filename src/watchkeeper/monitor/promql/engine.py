"""The PromQL engine: evaluates our syntax tree over all steps of a query at once.

Every node is evaluated for the whole array of step timestamps: selectors read
storage once for the query window and are then sliced per step with numpy, which
is what makes range queries affordable in Python. Semantics follow Prometheus 3
(promql/engine.go); the modules next to this one hold the functions, aggregations
and binary operators.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from watchkeeper.errors import QueryError
from watchkeeper.monitor.model import Queryable
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
from watchkeeper.monitor.promql.calls import evaluate_call
from watchkeeper.monitor.promql.parser import parse
from watchkeeper.monitor.promql.selectors import fetch, instant_lookup, windows
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
    require_unique_labels,
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
        ev = Evaluator(self, time_ms, time_ms)
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
        ev = Evaluator(self, start_ms, end_ms)
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
class Evaluator:
    """The state of one query: its bounds (for ``start()``/``end()``), deadline and samples.

    ``eval(expr, ts)`` evaluates ``expr`` at every time in ``ts`` at once; subqueries
    call it again with their own, step-aligned times.
    """

    engine: Engine
    query_start: int
    query_end: int
    deadline: float = 0.0
    samples: int = 0

    def __post_init__(self) -> None:
        self.deadline = time.monotonic() + self.engine.timeout_s

    # -- bookkeeping -----------------------------------------------------------------

    def check_time(self) -> None:
        if time.monotonic() >= self.deadline:
            raise QueryError("query timed out in query execution", "timeout")

    def count_samples(self, n: int, *, transient: bool = False) -> None:
        """Account for ``n`` samples held in memory, like Prometheus' currentSamples.

        Selector and function results stay held until the query ends; the samples
        of one range-vector window are only held while it is computed (transient).
        """
        if self.samples + n > self.engine.max_samples:
            raise QueryError(
                "query processing would load too many samples into memory in query execution",
                "execution",
            )
        if not transient:
            self.samples += n

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
        self.check_time()
        if isinstance(e, NumberLit):
            return ScalarSteps(np.full(len(ts), e.value, dtype=np.float64))
        if isinstance(e, StringLit):
            return StringValue(e.value)
        if isinstance(e, VectorSel):
            return VectorSteps(self.vector_selector(e, ts)[0])
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

    def vector(self, e: Expr, ts: IntArray) -> list[StepSeries]:
        v = self.eval(e, ts)
        assert isinstance(v, VectorSteps), f"expected instant vector, got {type(v).__name__}"
        return v.series

    def scalar(self, e: Expr, ts: IntArray) -> FloatArray:
        v = self.eval(e, ts)
        assert isinstance(v, ScalarSteps), f"expected scalar, got {type(v).__name__}"
        return v.values

    def string(self, e: Expr, ts: IntArray) -> str:
        v = self.eval(e, ts)
        assert isinstance(v, StringValue), f"expected string, got {type(v).__name__}"
        return v.value

    # -- selectors -------------------------------------------------------------------

    def vector_selector(
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
        self.count_samples(total)
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
            for s in self.vector(e.expr, inner_ts):
                if s.present.any():
                    series.append(RangeSeries(s.labels, inner_ts[s.present], s.values[s.present]))
        series.sort(key=lambda s: s.labels)
        return RangeArg(series, e.range_ms, ends)

    # -- functions -------------------------------------------------------------------

    def _call(self, e: Call, ts: IntArray) -> Evaluated:
        return evaluate_call(self, e, ts)

    def _aggregate(self, e: Aggregate, ts: IntArray) -> Evaluated:
        param: FloatArray | str | None = None
        if e.op in ("topk", "bottomk", "quantile"):
            assert e.param is not None
            param = self.scalar(e.param, ts)
        elif e.op == "count_values":
            assert e.param is not None
            param = self.string(e.param, ts)
        elif e.op not in ("sum", "avg", "min", "max", "count", "stddev", "stdvar", "group"):
            raise QueryError(f'aggregation "{e.op}" is not supported', "bad_data")
        series = self.vector(e.expr, ts)
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
            require_unique_labels(
                [StepSeries(drop_name(s.labels), -s.values, s.present) for s in inner.series]
            )
        )
