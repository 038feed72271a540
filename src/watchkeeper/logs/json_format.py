"""The JSON formatter: one line of JSON per log record, written by orjson.

``JSONFormatter`` is a plain ``logging.Formatter`` (usable with any handler);
watchkeeper's own handlers call ``render()`` for the bytes directly, skipping the
str round trip. A record that cannot be rendered (an exotic value orjson and our
fallback both refuse) still produces a line: the message and the error, so a log
call never disappears silently and never raises into the application.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import cast

from watchkeeper.logs.fields import FieldBuilder
from watchkeeper.logs.redaction import Redactor
from watchkeeper.logs.truncation import DEFAULT_LIMIT

__all__ = ["JSONFormatter"]


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
        if type(self).render is JSONFormatter.render:  # not overridden by a subclass
            # The builder's own entry, no frame of ours in between (handlers call
            # render for every line): the same bytes as the method below.
            line = cast("Callable[[logging.LogRecord], bytes]", partial(self.fields.build, True))
            self.render = line  # type: ignore[method-assign,assignment]

    def render(self, record: logging.LogRecord) -> bytes:
        """The record as one JSON line, newline included."""
        return self.fields.json_line(record)

    def format(self, record: logging.LogRecord) -> str:
        return self.render(record)[:-1].decode()
