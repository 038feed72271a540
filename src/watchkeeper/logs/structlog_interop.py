"""structlog interop: an app that logs with structlog gets the same fields and redaction.

Two shapes, pick one:

- **through stdlib** (``configure(structlog=True)``): structlog's events become
  stdlib records, rendered by the handler ``configure()`` installed; one pipeline,
  one output for both APIs. Fields ride in one record attribute, so a field named
  ``name`` or ``msg`` never collides with ``LogRecord``'s own attributes.
- **native** (``structlog.configure(processors=structlog_processors(),
  logger_factory=structlog.BytesLoggerFactory())``): structlog renders the very same
  JSON line itself, without the stdlib machinery; the fastest path.

structlog is optional: it is imported only here, only when one of these is used.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any

import orjson

from watchkeeper.logs.fields import STRUCTLOG_FIELDS, FieldBuilder
from watchkeeper.logs.setup import active_fields

__all__ = ["StructlogRenderer", "route_structlog_to_stdlib", "structlog_processors", "to_stdlib"]

EventDict = MutableMapping[str, Any]
Processor = Callable[[Any, str, EventDict], Any]
_STDLIB_KWARGS = ("exc_info", "stack_info", "stacklevel")


def _structlog() -> Any:
    try:
        import structlog
    except ImportError:
        from watchkeeper.errors import ConfigurationError

        raise ConfigurationError(
            "structlog interop needs structlog: pip install structlog"
        ) from None
    return structlog


class StructlogRenderer:
    """The final processor of a native chain: the event as watchkeeper's JSON line (bytes).

    Uses the settings of the last ``watchkeeper.logs.configure()`` (service,
    redaction, truncation) unless given its own ``FieldBuilder``.
    """

    def __init__(self, fields: FieldBuilder | None = None) -> None:
        self._fields = fields

    def __call__(self, logger: Any, method: str, event_dict: EventDict) -> bytes:
        fields = self._fields or active_fields()
        name = getattr(logger, "name", None) or "structlog"
        try:
            line = fields.from_event(str(name), method, event_dict)
            return orjson.dumps(line, default=fields.default)
        except Exception as exc:  # never raise into the app's log call
            return orjson.dumps({
                "level": method, "logger": str(name),
                "message": str(event_dict.get("event", ""))[:1000],
                "log_error": f"watchkeeper could not render this event: {exc!r}"[:1000],
            })  # fmt: skip


def structlog_processors(fields: FieldBuilder | None = None) -> list[Processor]:
    """A complete native chain: structlog's own contextvars, then our renderer."""
    structlog = _structlog()
    return [structlog.contextvars.merge_contextvars, StructlogRenderer(fields)]


def to_stdlib(logger: Any, method: str, event_dict: EventDict) -> dict[str, Any]:
    """The final processor of a chain routed through stdlib logging."""
    event = event_dict.pop("event", "")
    kwargs: dict[str, Any] = {kw: event_dict.pop(kw) for kw in _STDLIB_KWARGS if kw in event_dict}
    for ours in ("level", "logger", "timestamp"):  # the record carries these itself
        event_dict.pop(ours, None)
    kwargs["msg"] = event
    kwargs["extra"] = {STRUCTLOG_FIELDS: dict(event_dict)}
    return kwargs


def route_structlog_to_stdlib() -> None:
    """``structlog.configure`` so that structlog's events go through stdlib logging."""
    structlog = _structlog()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.filter_by_level,
            to_stdlib,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
