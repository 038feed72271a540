"""Prometheus' promqltest text format and its runner.

Run: ``python -m watchkeeper.monitor.promql.promqltest FILE...``.

The format (promql/promqltest in Prometheus)::

    load 5m
      http_requests{job="api", instance="0"}  0+10x10  _  stale  1 2 3

    eval instant at 50m sum by (job) (http_requests)
      {job="api"} 100

    eval range from 0 to 10m step 5m http_requests
      http_requests{job="api", instance="0"} 0 50 100

    eval_fail instant at 0m rate(http_requests)
      expected_fail_message expected type range vector in call to function "rate", ...

    clear

Values use the expanding notation: ``a+bxN`` / ``a-bxN`` (N+1 values), ``axN``,
``_`` (no sample), ``_xN``, ``stale`` (a staleness marker). Expected values are
compared as Prometheus does: relative tolerance 1e-6, NaN equal to NaN.
"""

from watchkeeper.monitor.promql.promqltest.dsl import (
    Clear,
    Command,
    Eval,
    Expected,
    Load,
    TestFileError,
    expand_values,
    parse_series_line,
    parse_test,
)
from watchkeeper.monitor.promql.promqltest.runner import (
    EPSILON,
    CaseResult,
    main,
    run_file,
    run_test,
)

__all__ = [
    "EPSILON",
    "CaseResult",
    "Clear",
    "Command",
    "Eval",
    "Expected",
    "Load",
    "TestFileError",
    "expand_values",
    "main",
    "parse_series_line",
    "parse_test",
    "run_file",
    "run_test",
]
