"""``configure()``: stdlib logging renders watchkeeper's lines, in one call.

It installs one handler on the root logger (so every library's ``logging`` calls
come out the same), and is idempotent: calling it again replaces the handler it
installed before, never adds a second. Handlers installed by others stay unless
``replace_handlers=True``; loggers that keep their own handlers and do not
propagate (uvicorn's, gunicorn's) are taken over only when named in ``take_over``.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterable
from typing import IO, Any

from watchkeeper.errors import ConfigurationError
from watchkeeper.logs import records
from watchkeeper.logs.console import ConsoleFormatter
from watchkeeper.logs.fields import FieldBuilder
from watchkeeper.logs.handlers import LineHandler, RotatingFileHandler
from watchkeeper.logs.json_format import JSONFormatter
from watchkeeper.logs.redaction import DEFAULT_KEYS, DEFAULT_PATTERNS, Redactor
from watchkeeper.logs.truncation import DEFAULT_LIMIT

__all__ = ["active_fields", "configure", "is_configured", "unconfigure"]

_MARK = "_watchkeeper_configured"
_FORMATS = ("json", "console", "auto")
DEFAULT_MAX_BYTES = 100 * 1024 * 1024
_active: FieldBuilder | None = None
_level_before = logging.WARNING  # the root level before the first configure()


def configure(
    level: int | str = "INFO",
    format: str = "auto",
    *,
    service: str | None = None,
    stream: IO[Any] | None = None,
    file: str | os.PathLike[str] | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    backups: int = 5,
    redact: bool | Redactor = True,
    redact_keys: Iterable[str] = (),
    redact_patterns: Iterable[str | re.Pattern[str]] = (),
    truncate: int | None = DEFAULT_LIMIT,
    color: bool | None = None,
    replace_handlers: bool = False,
    take_over: Iterable[str] = (),
    structlog: bool = False,
    fast_records: bool = True,
) -> None:
    """Send stdlib logging (and optionally structlog) through watchkeeper's formatter.

    - ``level``: the root level (``"INFO"``, ``logging.DEBUG`` …).
    - ``format``: ``"json"`` (one JSON object per line), ``"console"`` (for people),
      or ``"auto"``: console when the stream is a terminal, else JSON. Files are JSON
      unless ``"console"`` is asked for.
    - ``service``: a ``service`` field on every line (default: ``$OTEL_SERVICE_NAME``).
    - ``stream``: where lines go (default ``sys.stderr``); with ``file=...`` lines go to
      the file only, unless ``stream`` is given too.
    - ``file``, ``max_bytes`` (default 100 MiB; 0 never rotates), ``backups`` (5):
      size-based rotation, ``file.1`` the newest old file.
    - ``redact``: on by default; ``False`` turns it off, a ``Redactor`` replaces the
      rules; ``redact_keys`` / ``redact_patterns`` add to the defaults.
    - ``truncate``: longest value in characters (default 1000; ``None``: no limit).
    - ``color``: force console colours on or off (default: when a terminal, unless
      ``$NO_COLOR``).
    - ``replace_handlers``: remove every other root handler too.
    - ``take_over``: loggers (``"uvicorn"``, ``"uvicorn.access"``) whose own handlers
      are removed so their lines propagate to ours.
    - ``structlog``: route structlog through stdlib logging too (see docs/logs.md).
    - ``fast_records``: make stdlib's records with ``FastLogRecord`` (the same
      attributes and values; the process id and file names cached instead of asked
      for on every line), unless another record factory is already installed.
    """
    global _active
    levelno = _level(level)
    if format not in _FORMATS:
        raise ConfigurationError(
            f"watchkeeper.logs.configure(format={format!r}): use one of {', '.join(_FORMATS)}"
        )
    for name, value in (("max_bytes", max_bytes), ("backups", backups)):
        if not isinstance(value, int) or value < 0:
            raise ConfigurationError(
                f"watchkeeper.logs.configure({name}={value!r}): must be an integer >= 0"
            )
    if truncate is not None and (not isinstance(truncate, int) or truncate < 1):
        raise ConfigurationError(
            f"watchkeeper.logs.configure(truncate={truncate!r}): must be an integer >= 1, "
            "or None for no limit"
        )
    redactor = _redactor(redact, redact_keys, redact_patterns)
    service = service if service is not None else (os.environ.get("OTEL_SERVICE_NAME") or None)

    handlers: list[logging.Handler] = []
    if file is not None:
        fmt = format if format == "console" else "json"
        formatter = _formatter(fmt, service, redactor, truncate, color=bool(color))
        handlers.append(RotatingFileHandler(file, max_bytes, backups, formatter))
    if stream is not None or file is None:
        out = stream if stream is not None else sys.stderr
        tty = _isatty(out)
        fmt = ("console" if tty else "json") if format == "auto" else format
        use_color = color if color is not None else tty and not os.environ.get("NO_COLOR")
        handlers.append(LineHandler(out, _formatter(fmt, service, redactor, truncate, use_color)))

    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, _MARK, False) or replace_handlers:
            root.removeHandler(old)
            _close(old)
    for handler in handlers:
        setattr(handler, _MARK, True)
        root.addHandler(handler)
    global _level_before
    if _active is None:  # the first configure(): remember what unconfigure() restores
        _level_before = root.level
    root.setLevel(levelno)
    for name in take_over:
        taken = logging.getLogger(name)
        for old in list(taken.handlers):
            taken.removeHandler(old)
        taken.propagate = True
    _active = FieldBuilder(service, redactor, truncate)
    if fast_records:
        records.install()
    else:
        records.uninstall()
    if structlog:
        from watchkeeper.logs.structlog_interop import route_structlog_to_stdlib

        route_structlog_to_stdlib()


def unconfigure() -> None:
    """Remove (and close) the handlers ``configure()`` installed and restore the root
    logger's level from before it."""
    global _active
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, _MARK, False):
            root.removeHandler(old)
            _close(old)
    if _active is not None:
        root.setLevel(_level_before)
    records.uninstall()
    _active = None


_default: FieldBuilder | None = None


def is_configured() -> bool:
    """Whether ``configure()`` is in effect (``instrument()`` then turns request ids on)."""
    return _active is not None


def active_fields() -> FieldBuilder:
    """The field builder of the last ``configure()`` (defaults when never configured)."""
    global _default
    if _active is not None:
        return _active
    if _default is None:  # built once: a Redactor compiles its patterns
        _default = FieldBuilder(None, Redactor(), DEFAULT_LIMIT)
    return _default


def _close(handler: logging.Handler) -> None:
    try:
        if isinstance(handler, RotatingFileHandler) or not isinstance(handler, LineHandler):
            handler.close()
        else:
            handler.flush()  # a stream we did not open (stderr): flush, never close it
            logging.Handler.close(handler)
    except Exception:  # an old handler that fails to close must not stop reconfiguring
        pass


def _level(level: int | str) -> int:
    if isinstance(level, int) and not isinstance(level, bool):
        return level
    if isinstance(level, str):
        found = logging.getLevelName(level.upper())
        if isinstance(found, int):
            return found
    raise ConfigurationError(
        f"watchkeeper.logs.configure(level={level!r}): use a logging level such as "
        "'DEBUG', 'INFO', 'WARNING', 'ERROR' or logging.INFO"
    )


def _redactor(
    redact: bool | Redactor,
    keys: Iterable[str],
    patterns: Iterable[str | re.Pattern[str]],
) -> Redactor | None:
    keys, patterns = list(keys), list(patterns)
    if isinstance(redact, Redactor):
        if keys or patterns:
            return Redactor(redact.keys | set(keys), [*redact.patterns, *patterns])
        return redact
    if not redact:
        return None
    if keys or patterns:
        return Redactor(DEFAULT_KEYS | set(keys), [*DEFAULT_PATTERNS, *patterns])
    return Redactor()


def _formatter(
    fmt: str, service: str | None, redactor: Redactor | None, limit: int | None, color: bool
) -> logging.Formatter:
    redact: bool | Redactor = redactor if redactor is not None else False
    if fmt == "console":
        return ConsoleFormatter(service=service, redact=redact, truncate=limit, color=color)
    return JSONFormatter(service=service, redact=redact, truncate=limit)


def _isatty(stream: IO[Any]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
