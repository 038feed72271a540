"""The console formatter: one readable line per record, for people at a terminal.

    23:48:21.123 INFO     orders: order placed  request_id=9f2c… user_id=42

The same fields as the JSON lines (the same redaction and truncation), laid out
for eyes: local time, the level padded, the logger, the message, then the
context and extra fields as ``key=value``; an exception's stack follows on its
own lines. Colours (ANSI) only when asked, which ``configure()`` does when the
stream is a terminal and ``NO_COLOR`` is not set.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson

from watchkeeper.logs.fields import FieldBuilder
from watchkeeper.logs.redaction import Redactor
from watchkeeper.logs.truncation import DEFAULT_LIMIT

__all__ = ["ConsoleFormatter"]

_RESET = "\x1b[0m"
_DIM = "\x1b[2m"
_BOLD = "\x1b[1m"
_KEY = "\x1b[36m"
_LEVEL_COLOURS = {
    "debug": "\x1b[34m", "info": "\x1b[32m", "warning": "\x1b[33m",
    "error": "\x1b[31m", "critical": "\x1b[1;41m",
}  # fmt: skip
_HEAD = ("timestamp", "level", "logger", "message", "exception", "stack_info", "service")


def _value(value: Any) -> str:
    if isinstance(value, str):
        # bare when unambiguous, else quoted: a value with spaces must not read as two
        if value and not any(c in value for c in ' ="\n\t'):
            return value
        return orjson.dumps(value).decode()
    try:
        return orjson.dumps(value, default=str).decode()
    except (TypeError, orjson.JSONEncodeError):
        return repr(value)


class ConsoleFormatter(logging.Formatter):
    def __init__(
        self,
        *,
        service: str | None = None,
        redact: bool | Redactor = True,
        truncate: int | None = DEFAULT_LIMIT,
        color: bool = False,
    ) -> None:
        super().__init__()
        redactor = Redactor() if redact is True else (redact or None)
        self.fields = FieldBuilder(service, redactor, truncate)
        self.color = color

    def format(self, record: logging.LogRecord) -> str:
        fields = self.fields.from_record(record)
        local = time.localtime(record.created)
        stamp = time.strftime("%H:%M:%S", local) + f".{int(record.msecs):03d}"
        level = str(fields["level"])
        extras = " ".join(
            f"{_KEY}{k}{_RESET}={_value(v)}" if self.color else f"{k}={_value(v)}"
            for k, v in fields.items()
            if k not in _HEAD
        )
        if self.color:
            colour = _LEVEL_COLOURS.get(level, "")
            head = (
                f"{_DIM}{stamp}{_RESET} {colour}{level.upper():<8}{_RESET} "
                f"{_DIM}{record.name}:{_RESET} {_BOLD}{fields['message']}{_RESET}"
            )
        else:
            head = f"{stamp} {level.upper():<8} {record.name}: {fields['message']}"
        line = f"{head}  {extras}" if extras else head
        exception = fields.get("exception")
        if exception:
            line += "\n" + (exception["stack"] or f"{exception['type']}: {exception['message']}")
        if fields.get("stack_info"):
            line += "\n" + str(fields["stack_info"])
        return line

    def render(self, record: logging.LogRecord) -> bytes:
        return (self.format(record) + "\n").encode("utf-8", "backslashreplace")
