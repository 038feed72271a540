"""Public test helpers for applications that use watchkeeper.

``capture_logs()`` collects the log lines emitted inside a ``with`` block as the
dicts watchkeeper's JSON formatter would write (request id, bound fields, trace
ids, redaction and truncation included), so a test asserts on fields, not on text:

    with capture_logs() as lines:
        client.get("/orders/1")
    assert lines[-1]["request_id"]
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from watchkeeper.logs.setup import active_fields

__all__ = ["capture_logs"]


class _Capture(logging.Handler):
    def __init__(self, lines: list[dict[str, Any]], level: int) -> None:
        super().__init__(level)
        self.lines = lines
        self.fields = active_fields()

    def emit(self, record: logging.LogRecord) -> None:
        fields = self.fields
        line = orjson.dumps(fields.from_record(record), default=fields.default)
        self.lines.append(orjson.loads(line))  # exactly what a JSON line would hold


@contextmanager
def capture_logs(level: int = logging.DEBUG, logger: str = "") -> Iterator[list[dict[str, Any]]]:
    """Collect the lines logged at ``level`` or above through ``logger`` (default: root)."""
    lines: list[dict[str, Any]] = []
    target = logging.getLogger(logger)
    handler = _Capture(lines, level)
    old_level = target.level
    target.addHandler(handler)
    if target.getEffectiveLevel() > level:
        target.setLevel(level)
    try:
        yield lines
    finally:
        target.removeHandler(handler)
        target.setLevel(old_level)
