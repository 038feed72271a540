"""The exemplar source: the request's sampled server span as ``trace_id``/``span_id``.

The server-span hook leaves the span's exemplar labels (rendered once, at the span's
start) in ``setup.REQUEST_DECISION`` for the rest of the request; the HTTP
middlewares read it at the moment they record the request's duration, with one C
call and no Python frame, so an unsampled request pays almost nothing. The value is
False in an unsampled request: callers test it for truth. The histogram keeps the
latest exemplar per bucket and shows it in the OpenMetrics exposition only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from watchkeeper.tracing import setup

__all__ = ["ExemplarSource", "exemplar_source"]

# () -> 'trace_id="…",span_id="…"' (the label pairs) or a false value (None/False).
ExemplarSource = Callable[[], str | None]


def exemplar_source() -> ExemplarSource:
    """The function returning the current request's exemplar labels (falsy: none)."""
    return cast(ExemplarSource, setup.REQUEST_DECISION.get)
