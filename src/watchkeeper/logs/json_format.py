"""The JSON formatter: one line of JSON per log record, written by orjson.

``JSONFormatter`` is a plain ``logging.Formatter`` (usable with any handler);
watchkeeper's own handlers call ``render()`` for the bytes directly, skipping the
str round trip. A record that cannot be rendered (an exotic value orjson and our
fallback both refuse) still produces a line: the message and the error, so a log
call never disappears silently and never raises into the application.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from watchkeeper.logs.fields import FieldBuilder
from watchkeeper.logs.redaction import Redactor
from watchkeeper.logs.truncation import DEFAULT_LIMIT

__all__ = ["JSONFormatter"]

_dumps = orjson.dumps
_NEWLINE = orjson.OPT_APPEND_NEWLINE


class JSONFormatter(logging.Formatter):
    """``JSONFormatter(service="shop")``; redaction on by default (``redact=False`` or a
    ``Redactor``), values cut at ``truncate`` characters (``None``: never)."""

    def __init__(
        self,
        *,
        service: str | None = None,
        redact: bool | Redactor = True,
        truncate: int | None = DEFAULT_LIMIT,
    ) -> None:
        super().__init__()
        redactor = Redactor() if redact is True else (redact or None)
        self.fields = FieldBuilder(service, redactor, truncate)
        self._from_record = self.fields.from_record
        self._default = self.fields.default

    def render(self, record: logging.LogRecord) -> bytes:
        """The record as one JSON line, newline included."""
        try:
            return _dumps(self._from_record(record), default=self._default, option=_NEWLINE)
        except Exception as exc:
            return _fallback(record, exc)

    def format(self, record: logging.LogRecord) -> str:
        return self.render(record)[:-1].decode()


def _fallback(record: logging.LogRecord, error: Exception) -> bytes:
    try:
        message = str(record.msg)[:DEFAULT_LIMIT]
    except Exception:
        message = "<unprintable message>"
    line: dict[str, Any] = {
        "level": record.levelname.lower(),
        "logger": record.name,
        "message": message,
        "log_error": f"watchkeeper could not render this record: {error!r}"[:DEFAULT_LIMIT],
    }
    return _dumps(line, option=_NEWLINE)
