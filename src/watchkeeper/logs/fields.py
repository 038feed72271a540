"""The fields of one log line, the same for the JSON and console formats and structlog.

Order: ``timestamp`` (RFC 3339, UTC, milliseconds), ``level``, ``logger``,
``message``, ``service``, the context (``request_id``, bound fields), ``trace_id``
and ``span_id`` when a span is active, the record's ``extra=`` fields, then
``exception`` as ``{type, message, stack}``.

Everything but the first five passes through redaction and truncation. A context
or ``extra=`` field named like one of the core fields is kept as ``field_<name>``
instead of overwriting it (a line's level or timestamp is never forged by data).
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import time
import traceback
from collections.abc import Iterable, Mapping
from itertools import islice
from types import TracebackType
from typing import Any, Literal, overload

import orjson

from watchkeeper.logs.binding import RequestContext, current_local, current_request
from watchkeeper.logs.records import SUPPORTED as _FAST_RECORDS
from watchkeeper.logs.records import FastLogRecord
from watchkeeper.logs.redaction import REDACTED, Redactor
from watchkeeper.logs.trace_ids import current_trace_ids
from watchkeeper.logs.truncation import DEFAULT_LIMIT, truncate

__all__ = ["CORE_FIELDS", "STRUCTLOG_FIELDS", "FieldBuilder", "fallback_line"]

CORE_FIELDS = frozenset({
    "timestamp", "level", "logger", "message", "service", "trace_id", "span_id", "exception",
})  # fmt: skip
# Where structlog events routed through stdlib travel: one record attribute, so their
# keys can never collide with LogRecord's own attributes (which makeRecord refuses).
STRUCTLOG_FIELDS = "_watchkeeper_fields"

# Attributes every LogRecord has (plus what formatters and uvicorn add): the rest are extras.
_RECORD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message", "asctime", "taskName", "color_message", STRUCTLOG_FIELDS,
}  # fmt: skip
_PLAIN_RECORD_SIZE = len(logging.LogRecord("", 0, "", 0, "", (), None).__dict__)
# The last attribute LogRecord.__init__ sets: makeRecord adds the extras after it, so
# reading the record's attributes backwards up to it finds the extras without
# walking the twenty-odd standard ones.
_LAST_INIT_ATTR = list(logging.LogRecord("", 0, "", 0, "", (), None).__dict__)[-1]
_LEVELS = {
    logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warning",
    logging.ERROR: "error", logging.CRITICAL: "critical",
}  # fmt: skip
_MAX_DEPTH = 8  # nested containers deeper than this (or cyclic) are cut
_STACK_LIMIT = 32_000  # a stack keeps its innermost frames (the end) when cut
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1  # what orjson can write as a number
_CARD_MIN = 10**12  # ints this large could be card numbers
_NAMES_MAX = 4_096
_LogRecord = logging.LogRecord
# Records whose attributes are LogRecord.__init__'s, in its order, and nothing else:
# the stdlib's own, and ours when it mirrors this Python's (records.SUPPORTED).
_PLAIN_RECORDS = frozenset({_LogRecord, FastLogRecord} if _FAST_RECORDS else {_LogRecord})
_modules_get = sys.modules.get
_SCALARS = frozenset({str, int, float, bool, type(None)})
# ".000Z" … ".999Z": milliseconds by table lookup, a quarter of the cost of formatting
# a number into a string on every line. Keyed by the float that floor division gives
# (0.0 … 999.0): two int() calls a line cost more than the arithmetic around them.
# Floor, not truncation, also puts a clock before 1970 in the right second.
_MILLIS = {float(ms): f".{ms:03d}Z" for ms in range(1000)}
_dumps = orjson.dumps
_NEWLINE = orjson.OPT_APPEND_NEWLINE


class FieldBuilder:
    """Builds the ordered, sanitised field dict of a record or a structlog event."""

    def __init__(
        self,
        service: str | None = None,
        redactor: Redactor | None = None,
        truncate_at: int | None = DEFAULT_LIMIT,
    ) -> None:
        self.service = service
        self.redactor = redactor
        self.limit = truncate_at or None
        self._secret = redactor.is_secret_key if redactor is not None else None
        self._key_cache = redactor.key_cache if redactor is not None else None
        # Strings shorter than this need neither a redaction scan nor truncation.
        no_limit = 1 << 62
        self._short = min(
            redactor.min_length if redactor is not None else no_limit,
            self.limit + 1 if self.limit else no_limit,
        )
        self._ts: tuple[float, str] = (-1.5, "")  # no second is -1.5
        # extra= key -> its output name, (name,) if redacted, False if a record attribute
        self._names: dict[object, str | tuple[str] | bool] = {}
        self._default = self.default  # bound once: not a new method object per line

    # -- values -------------------------------------------------------------------

    def text(self, value: str) -> str:
        if len(value) < self._short:
            return value
        if self.redactor is not None:
            value = self.redactor.text(value)
        limit = self.limit
        if limit and len(value) > limit:
            return truncate(value, limit)
        return value

    def clean(self, value: Any, depth: int = 0) -> Any:
        """``value`` redacted, truncated and made JSON-safe, containers recursively."""
        kind = type(value)
        if kind is str:
            return self.text(value)
        if kind is int:
            if value >= _CARD_MIN or value < 0:
                return self._big_int(value)
            return value
        if kind is float or kind is bool or value is None:
            return value
        if depth >= _MAX_DEPTH:
            return "[too deep]"
        if isinstance(value, Mapping):
            secret = self._secret
            return {
                (k if type(k) is str else str(k)): (
                    REDACTED if secret is not None and secret(k) else self.clean(v, depth + 1)
                )
                for k, v in value.items()
            }
        if isinstance(value, list | tuple | set | frozenset):
            return [self.clean(v, depth + 1) for v in value]
        if isinstance(value, str):  # str subclasses (StrEnum) as their text
            return self.text(str(value))
        if isinstance(value, int):
            return self._big_int(int(value))
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return self.clean(dataclasses.asdict(value), depth + 1)
        dump = getattr(value, "model_dump", None)  # pydantic models: their fields, redacted
        if callable(dump):
            try:
                return self.clean(dump(mode="json"), depth + 1)
            except Exception:
                pass
        return value  # datetime, UUID, Enum … (orjson writes them), else ``default``

    def _big_int(self, value: int) -> Any:
        if self.redactor is not None and value >= _CARD_MIN:
            text = str(value)
            if self.redactor.text(text) != text:
                return REDACTED
        return value if _INT_MIN <= value <= _INT_MAX else str(value)

    def default(self, value: Any) -> Any:
        """orjson's fallback for types it cannot write: their text, sanitised."""
        try:
            return self.text(str(value))
        except Exception:
            return f"<unprintable {type(value).__qualname__}>"

    # -- a record -----------------------------------------------------------------

    def timestamp(self, created: float) -> str:
        """RFC 3339 UTC with milliseconds (from_record inlines the same steps)."""
        second = created // 1  # floor division: a float, no int() call (see _MILLIS)
        cached = self._ts
        if cached[0] != second:  # one strftime per second, not per line
            cached = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
            self._ts = cached
        return cached[1] + _MILLIS[(created - second) * 1000 // 1]

    def from_record(self, record: logging.LogRecord) -> dict[str, Any]:
        """The record's fields, in order (the console format's input)."""
        return self.build(False, record)

    def json_line(self, record: logging.LogRecord) -> bytes:
        """The record as one JSON line, newline included (``JSONFormatter.render``)."""
        return self.build(True, record)

    @overload
    def build(self, line: Literal[False], record: logging.LogRecord) -> dict[str, Any]: ...
    @overload
    def build(self, line: Literal[True], record: logging.LogRecord) -> bytes: ...

    def build(self, line: bool, record: logging.LogRecord) -> dict[str, Any] | bytes:
        """The record's fields (``line=False``), or its JSON line: the handler calls
        ``partial(build, True)``, one Python frame from the record to the bytes.

        The hot path of every log line: getMessage() is inlined, and redaction and
        the extras each take one call (a call costs ~100 instructions in 3.11; one
        copy of each rule is worth more). A JSON line is never lost to an error: a
        record that cannot be rendered becomes its message and the error.
        """
        try:
            msg = record.msg
            plain = type(record) in _PLAIN_RECORDS
            if plain and type(msg) is str:  # getMessage(), inlined
                args = record.args
                if args:
                    try:
                        message = msg % args
                    except Exception:  # bad %-args: keep what the caller wrote, not lose the line
                        message = f"{msg} {args!r}"
                else:
                    message = msg
            else:
                try:
                    message = record.getMessage()
                except Exception:
                    message = f"{record.msg!s} {record.args!r}"
            if len(message) >= self._short:  # shorter ones need neither redaction nor a cut
                message = self.text(message)
            created = record.created
            second = created // 1
            cached = self._ts
            if cached[0] != second:  # one strftime per second, not per line
                cached = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
                self._ts = cached
            out: dict[str, Any] = {
                "timestamp": cached[1] + _MILLIS[(created - second) * 1000 // 1],
                "level": _LEVELS.get(record.levelno) or record.levelname.lower(),
                "logger": record.name,
                "message": message,
            }
            if self.service is not None:
                out["service"] = self.service
            holder = current_request()
            if holder is not None:
                self._request_fields(out, holder)
            local = current_local()
            if local:
                self._merge(out, local)
            if _modules_get("opentelemetry.trace") is not None:
                ids = current_trace_ids()
                if ids is not None:
                    out["trace_id"], out["span_id"] = ids
            attrs = record.__dict__
            if len(attrs) > _PLAIN_RECORD_SIZE:  # anything beyond a plain record: extras
                if plain and STRUCTLOG_FIELDS not in attrs:
                    # LogRecord.__init__ sets the same attributes in the same order every
                    # time, and makeRecord adds the extras after them.
                    self._put_extras(out, islice(attrs.items(), _PLAIN_RECORD_SIZE, None))
                else:
                    self._extras(out, record, attrs)
            if record.exc_info:
                out["exception"] = self.exception(record.exc_info)
            if record.stack_info:
                out["stack_info"] = self._stack(record.stack_info)
            if line:
                return _dumps(out, default=self._default, option=_NEWLINE)
            return out
        except Exception as exc:
            if line:
                return fallback_line(record, exc)
            raise

    def _extras(
        self, out: dict[str, Any], record: logging.LogRecord, attrs: dict[str, Any]
    ) -> None:
        fields = attrs.get(STRUCTLOG_FIELDS)
        if fields is not None:
            self._merge(out, fields)
        if type(record) in _PLAIN_RECORDS:
            # LogRecord.__init__ sets the same attributes in the same order every
            # time, and makeRecord adds the extras after them.
            keys: Iterable[str] = islice(attrs, _PLAIN_RECORD_SIZE, None)
        else:  # a subclass may set more, or fewer: find where __init__'s end
            found = []
            for key in reversed(attrs):
                if key == _LAST_INIT_ATTR:
                    break
                found.append(key)
            keys = reversed(found)
        self._put_extras(out, ((key, attrs[key]) for key in keys))

    def _put_extras(self, out: dict[str, Any], extras: Iterable[tuple[str, Any]]) -> None:
        """The record's ``extra=`` fields, each under its remembered name (redacted when
        the key is a secret's), the common scalar values without a call."""
        names = self._names
        short = self._short
        for key, value in extras:
            try:
                name = names[key]
            except KeyError:
                name = self._name(key)
            if type(name) is not str:
                if name:  # (name,): a secret-looking key
                    out[name[0]] = REDACTED  # type: ignore[index]
                continue
            kind = type(value)
            if kind is str:
                out[name] = value if len(value) < short else self.text(value)
            elif kind is int:
                out[name] = value if 0 <= value < _CARD_MIN else self._big_int(value)
            elif kind is float or kind is bool or value is None:
                out[name] = value
            else:
                out[name] = self.clean(value)

    def _name(self, key: object) -> str | tuple[str] | bool:
        """What an extra's key becomes: its output name, ``(name,)`` when its value is
        to be redacted, ``False`` for the record's own attributes (remembered)."""
        if key in _RECORD_ATTRS:
            result: str | tuple[str] | bool = False
        else:
            name = key if type(key) is str else str(key)
            if name in CORE_FIELDS:
                name = f"field_{name}"
            secret = self._secret
            result = (name,) if secret is not None and secret(name) else name
        names = self._names
        if len(names) >= _NAMES_MAX:
            names.clear()  # bounded: pathological key churn cannot grow it
        names[key] = result
        return result

    def _context(self, out: dict[str, Any]) -> None:
        if self.service is not None:
            out["service"] = self.service
        holder = current_request()
        if holder is not None:
            self._request_fields(out, holder)
        local = current_local()
        if local:
            self._merge(out, local)
        ids = current_trace_ids()
        if ids is not None:
            out["trace_id"], out["span_id"] = ids

    def _request_fields(self, out: dict[str, Any], holder: RequestContext) -> None:
        fields = holder.fields
        rendered = holder.rendered
        if rendered is not None and rendered[0] is self and rendered[1] is fields:
            out.update(rendered[2])  # bind() replaces the dict, so identity means unchanged
            return
        rid = holder.request_id
        clean: dict[str, Any] = {}
        cacheable = True
        for key, value in fields.items():
            if value is rid:  # validated or generated by us: nothing to redact
                clean[key] = value
            else:
                # Only plain values are remembered: a bound list or dict could change.
                cacheable = cacheable and type(value) in _SCALARS
                self._put(clean, key, value)
        out.update(clean)
        if cacheable:
            holder.rendered = (self, fields, clean)  # one tuple: atomic for other threads

    def _merge(self, out: dict[str, Any], fields: Mapping[str, Any]) -> None:
        for key, value in fields.items():
            self._put(out, key, value)

    def _put(self, out: dict[str, Any], key: str, value: Any) -> None:
        # clean(), with the common scalar cases inlined: this runs for every field.
        if type(key) is not str:
            key = str(key)
        if key in CORE_FIELDS:
            key = f"field_{key}"
        cache = self._key_cache
        if cache is not None:
            secret = cache.get(key)  # Redactor.is_secret_key's cache, read without a call
            if secret is None:
                secret = self._secret(key)  # type: ignore[misc]
            if secret:
                out[key] = REDACTED
                return
        kind = type(value)
        if kind is str:
            out[key] = value if len(value) < self._short else self.text(value)
        elif kind is int:
            out[key] = value if 0 <= value < _CARD_MIN else self._big_int(value)
        elif kind is float or kind is bool or value is None:
            out[key] = value
        else:
            out[key] = self.clean(value)

    # -- exceptions ---------------------------------------------------------------

    def exception(self, exc_info: Any) -> dict[str, str]:
        if exc_info is True:
            exc_info = sys.exc_info()
        if isinstance(exc_info, BaseException):
            exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
        etype: type[BaseException] | None = exc_info[0]
        exc: BaseException | None = exc_info[1]
        tb: TracebackType | None = exc_info[2]
        if etype is None:
            return {"type": "None", "message": "", "stack": ""}
        module = etype.__module__
        name = etype.__qualname__ if module == "builtins" else f"{module}.{etype.__qualname__}"
        try:
            text = str(exc)
        except Exception:
            text = f"<unprintable {etype.__qualname__}>"
        try:
            stack = "".join(traceback.format_exception(etype, exc, tb))
        except Exception:
            stack = ""
        return {"type": name, "message": self.text(text), "stack": self._stack(stack)}

    def _stack(self, stack: str) -> str:
        if self.redactor is not None:
            stack = self.redactor.text(stack)
        if len(stack) > _STACK_LIMIT:  # keep the end: the innermost frames and the error
            cut = len(stack) - _STACK_LIMIT
            stack = f"…[truncated {cut} chars]{stack[cut:]}"
        return stack.rstrip("\n")

    # -- a structlog event --------------------------------------------------------

    def from_event(self, logger_name: str, method: str, event: Mapping[str, Any]) -> dict[str, Any]:
        """The same fields for a structlog event dict (rendered natively, not via stdlib)."""
        event = dict(event)
        message = event.pop("event", "")
        level = str(event.pop("level", None) or method)
        level = "error" if level == "exception" else ("warning" if level == "warn" else level)
        name = event.pop("logger", None) or event.pop("logger_name", None) or logger_name
        exc_info = event.pop("exc_info", None)
        event.pop("timestamp", None)  # ours is the one format everywhere
        stack_info = event.pop("stack", None) if isinstance(event.get("stack"), str) else None
        exception = event.pop("exception", None)
        out: dict[str, Any] = {
            "timestamp": self.timestamp(time.time()),
            "level": level.lower(),
            "logger": str(name),
            "message": self.text(message if isinstance(message, str) else str(message)),
        }
        self._context(out)
        self._merge(out, event)
        if exc_info:
            out["exception"] = self.exception(exc_info)
        elif isinstance(exception, str):  # an earlier format_exc_info processor rendered it
            out["exception"] = {"type": "", "message": "", "stack": self._stack(exception)}
        if stack_info:
            out["stack_info"] = self._stack(stack_info)
        return out


def fallback_line(record: logging.LogRecord, error: Exception) -> bytes:
    """The line of a record that could not be rendered: its message and the error."""
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
