"""PromQL for the embedded monitor: our evaluator over the ``promql-parser`` syntax tree.

``Engine(storage).instant_query(expr, time_ms)`` and ``.range_query(expr, start_ms,
end_ms, step_ms)`` answer like Prometheus 3; errors are ``QueryError`` with
Prometheus' message and API error type.
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
