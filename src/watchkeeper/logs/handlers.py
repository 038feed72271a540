"""Handlers that write rendered lines as bytes: to a stream, or to a rotating file.

Why not ``StreamHandler``/``RotatingFileHandler``: both format to ``str`` and encode
again, format inside the handler lock (serialising every thread's formatting), and
``RotatingFileHandler.shouldRollover`` formats every record a second time just to
measure it. These render once, outside the lock, and hold the lock only to write;
to a ``BufferedWriter`` (``sys.stderr.buffer``, a file opened ``"ab"``) or a
``BytesIO`` they take no lock of their own at all: those objects hold their own lock
for a whole ``write()``, so one line, written in one call, is never torn or
interleaved. Each line is flushed, as the stdlib handlers do: a crash (or a worker
ended with ``os._exit``) must not eat the last lines, and a quiet service's lines
must not wait in a buffer.
"""

from __future__ import annotations

import io
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

__all__ = ["LineHandler", "RotatingFileHandler"]

Render = Callable[[logging.LogRecord], bytes]
# C types whose write() holds their own lock for the whole call, and writes it all.
_SELF_LOCKING = (io.BufferedWriter, io.BytesIO)


def _renderer(formatter: logging.Formatter | None) -> Render:
    render = getattr(formatter, "render", None)
    if callable(render):
        return render  # type: ignore[no-any-return]
    fmt = formatter or logging.Formatter()
    return lambda record: (fmt.format(record) + "\n").encode("utf-8", "backslashreplace")


class LineHandler(logging.Handler):
    """Writes each record as one line to ``stream`` (binary, or text with a ``.buffer``)."""

    def __init__(self, stream: IO[Any], formatter: logging.Formatter | None = None) -> None:
        super().__init__()
        self.stream = stream
        buffer = getattr(stream, "buffer", None)
        self._binary: IO[bytes] | None = buffer if buffer is not None else _binary_or_none(stream)
        self._write_lock = threading.Lock()
        self._plain = type(self).write is LineHandler.write  # no subclass changed how to write
        # Where a line goes without our lock: see the module's docstring.
        self._direct: IO[bytes] | None = (
            self._binary if self._plain and type(self._binary) in _SELF_LOCKING else None
        )
        self._render: Render = _renderer(None)
        if formatter is not None:
            self.setFormatter(formatter)

    def setFormatter(self, fmt: logging.Formatter | None) -> None:
        super().setFormatter(fmt)
        self._render = _renderer(fmt)

    def handle(self, record: logging.LogRecord) -> Any:
        # The stdlib Handler.handle locks around emit, formatting included: render first.
        if self.filters:
            rv = self.filter(record)
            if not rv:
                return rv
        try:
            line = self._render(record)
        except Exception:
            self.handleError(record)
            return True
        direct = self._direct
        if direct is not None:
            try:
                direct.write(line)
                direct.flush()
            except Exception:
                self.handleError(record)
            return True
        with self._write_lock:
            try:
                binary = self._binary
                if binary is not None and self._plain:  # the common case, without a call
                    binary.write(line)
                    binary.flush()
                else:
                    self.write(line)
            except Exception:
                self.handleError(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        self.handle(record)

    def write(self, line: bytes) -> None:
        binary = self._binary
        if binary is not None:
            binary.write(line)
            binary.flush()
        else:
            self.stream.write(line.decode("utf-8", "backslashreplace"))
            self.stream.flush()

    def flush(self) -> None:
        with self._write_lock:
            try:
                (self._binary or self.stream).flush()
            except (OSError, ValueError):  # closed underneath us at shutdown
                pass


def _binary_or_none(stream: IO[Any]) -> IO[bytes] | None:
    if isinstance(stream, io.BufferedIOBase | io.RawIOBase) or "b" in str(
        getattr(stream, "mode", "")
    ):
        return stream
    return None  # a text stream (StringIO, a custom writer of str)


class RotatingFileHandler(LineHandler):
    """Appends to ``path``; before a line would take it past ``max_bytes``, renames
    ``path`` to ``path.1`` (``path.1`` to ``path.2`` …, keeping ``backups`` old files)
    and starts afresh. ``max_bytes=0`` never rotates. One process per file: several
    processes rotating one file would rename it under each other."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        max_bytes: int,
        backups: int,
        formatter: logging.Formatter | None = None,
    ) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.backups = backups
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[bytes] = self.path.open("ab")
        self._size = self._file.tell()
        super().__init__(self._file, formatter)

    def write(self, line: bytes) -> None:
        if self.max_bytes and self._size and self._size + len(line) > self.max_bytes:
            self._rotate()
        self._file.write(line)
        self._file.flush()
        self._size += len(line)

    def _rotate(self) -> None:
        self._file.close()
        if self.backups > 0:
            for i in range(self.backups - 1, 0, -1):
                older = self.path.with_name(f"{self.path.name}.{i}")
                if older.exists():
                    older.replace(self.path.with_name(f"{self.path.name}.{i + 1}"))
            self.path.replace(self.path.with_name(f"{self.path.name}.1"))
            self._file = self.path.open("ab")
        else:
            self._file = self.path.open("wb")  # no backups: start the one file over
        self._size = 0
        self.stream = self._binary = self._file

    def close(self) -> None:
        with self._write_lock:
            try:
                self._file.close()
            finally:
                super().close()
