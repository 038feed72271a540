"""The explore page: a PromQL box, run as an instant or a range query, shown as a
table and (for range queries) a chart; parse and evaluation errors are shown inline
with the engine's own message."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from watchkeeper.monitor.promql.value import Matrix, Scalar, String, Vector
from watchkeeper.monitor.web.console.charts import Chart, series_label, to_chart
from watchkeeper.monitor.web.console.runner import Runner
from watchkeeper.monitor.web.console.timerange import View

__all__ = ["ExploreResult", "MAX_QUERY_CHARS", "MAX_ROWS", "run_explore"]

MAX_ROWS = 500  # table rows shown; the count says how many there were
MAX_QUERY_CHARS = 16 << 10
MAX_POINTS = 11_000  # per series, as Prometheus limits (end - start) / step


@dataclass
class ExploreResult:
    expr: str
    mode: str  # "instant" or "range"
    error: str = ""
    result_type: str = ""
    rows: list[tuple[str, str]] = field(default_factory=list)  # (series, value)
    total: int = 0
    chart: Chart | None = None
    points: int = 0  # points the engine returned, before downsampling


def _value(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(v) if v != int(v) or abs(v) >= 1e15 else str(int(v))


def run_explore(
    runner: Runner, view: View, expr: str, mode: str, step_ms: int | None = None
) -> ExploreResult:
    result = ExploreResult(expr, mode if mode in ("instant", "range") else "range")
    if not expr.strip():
        return result
    if len(expr) > MAX_QUERY_CHARS:
        result.error = f"the query is longer than {MAX_QUERY_CHARS} characters"
        return result
    if result.mode == "instant":
        value = runner.value(expr, view.end_ms)
        if value is None:
            result.error = runner.last_error(expr)
            return result
        if isinstance(value, Vector):
            result.result_type = "vector"
            result.total = len(value.samples)
            result.rows = [
                (series_label(s.labels, hide=()), _value(s.value)) for s in value.samples
            ]
        elif isinstance(value, Scalar | String):
            result.result_type = "scalar" if isinstance(value, Scalar) else "string"
            text = _value(value.value) if isinstance(value, Scalar) else value.value
            result.total, result.rows = 1, [("", text)]
        else:
            assert isinstance(value, Matrix)
            result.result_type = "matrix"
            result.total = len(value.series)
            result.rows = [
                (
                    series_label(s.labels, hide=()),
                    f"{len(s.points)} points, last {_value(s.points[-1][1]) if s.points else '–'}",
                )
                for s in value.series
            ]
        result.rows = result.rows[:MAX_ROWS]
        return result
    # Range: one step per pixel unless ``step`` asks for more (at most 11,000 points
    # per series, like Prometheus); what is denser than the chart is cut to a
    # minimum and a maximum per pixel column before it goes to the browser.
    step = view.step_ms() if step_ms is None else max(step_ms, view.step_ms(MAX_POINTS))
    start, end = view.aligned(step)
    matrix = runner.matrix(expr, start, end, step)
    error = runner.last_error(expr)
    if error:
        result.error = error
        return result
    result.result_type = "matrix"
    result.total = len(matrix.series)
    result.points = sum(len(s.points) for s in matrix.series)
    result.chart = to_chart(
        "result",
        matrix,
        start,
        end,
        step,
        label=lambda ls: series_label(ls, hide=()),
        max_points=view.width,
    )
    for s in matrix.series[:MAX_ROWS]:
        last = _value(s.points[-1][1]) if s.points else "–"
        result.rows.append((series_label(s.labels, hide=()), last))
    return result
