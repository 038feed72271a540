"""PromQL for the embedded monitor: our evaluator over the ``promql-parser`` syntax tree.

``Engine(storage).instant_query(expr, time_ms)`` and ``.range_query(expr, start_ms,
end_ms, step_ms)`` answer like Prometheus 3; errors are ``QueryError`` with
Prometheus' message and API error type (``bad_data``, ``execution``, ``timeout``).

Semantics are Prometheus 3's: left-open range selectors and lookback window,
stale markers by bits, ``offset`` and ``@`` (incl. ``start()``/``end()``),
subqueries aligned to absolute multiples of their step, every aggregation
operator, all binary operators with ``on``/``ignoring``/``group_left``/
``group_right`` and ``bool``, and the functions of ``functions`` (instant
vectors), ``rangefuncs`` (range vectors), ``histogram`` (classic buckets) and
``calls`` (dispatch). Regexes are RE2 (translated by ``regex``).

Not supported: native histograms, and functions Prometheus 3 keeps behind its
experimental-functions flag other than ``mad_over_time`` and ``sort_by_label``
(``limitk``, ``info``, ``double_exponential_smoothing``, ...).

Layout: ``parser`` (promql-parser -> ``ast``), ``engine`` (evaluation of every node
for all steps at once), ``steps`` (the per-step value types), ``selectors``,
``calls``/``functions``/``rangefuncs``/``histogram``, ``aggregations``, ``binops``,
``mathutil`` (Prometheus' float algorithms), ``promqltest`` (the test DSL runner).
"""

from watchkeeper.monitor.promql.engine import Engine
from watchkeeper.monitor.promql.parser import parse_duration
from watchkeeper.monitor.promql.value import (
    Matrix,
    Point,
    Sample,
    Scalar,
    Series,
    String,
    Value,
    Vector,
)

__all__ = [
    "Engine",
    "Matrix",
    "Point",
    "Sample",
    "Scalar",
    "Series",
    "String",
    "Value",
    "Vector",
    "parse_duration",
]
