"""Append-only record files (the WAL segments and the series log).

A record is ``[u32 length][u32 crc32 of payload][payload]``. A crash can leave a
torn last record (short, or with a bad checksum); readers stop there and the
file is truncated to its last good record before new records are appended, so
a torn tail never hides records written after the restart.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

from watchkeeper.monitor.model import Labels

__all__ = ["RecordFile", "decode_labels", "encode_labels", "read_records"]

_FRAME = struct.Struct("<II")
_U32 = struct.Struct("<I")


def read_records(path: Path) -> tuple[list[bytes], int]:
    """All intact records of ``path`` and the byte length of the intact prefix."""
    data = path.read_bytes()
    out: list[bytes] = []
    pos = 0
    while pos + _FRAME.size <= len(data):
        length, crc = _FRAME.unpack_from(data, pos)
        end = pos + _FRAME.size + length
        if end > len(data):
            break
        payload = data[pos + _FRAME.size : end]
        if zlib.crc32(payload) != crc:
            break
        out.append(payload)
        pos = end
    return out, pos


class RecordFile:
    """An open append-only record file; ``fsync`` makes each ``append`` power-loss safe."""

    def __init__(self, path: Path, *, fsync: bool = False, valid_length: int | None = None) -> None:
        self.path = path
        self._fsync = fsync
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        if valid_length is not None and os.fstat(self._fd).st_size != valid_length:
            os.ftruncate(self._fd, valid_length)

    def append(self, *payload_parts: bytes) -> int:
        """Write one record with a single write() (atomic against kill -9); returns its size."""
        payload = b"".join(payload_parts)
        frame = _FRAME.pack(len(payload), zlib.crc32(payload)) + payload
        view = memoryview(frame)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        if self._fsync:
            os.fsync(self._fd)
        return len(frame)

    def size(self) -> int:
        return os.fstat(self._fd).st_size

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def encode_labels(labels: Labels) -> bytes:
    """Length-prefixed UTF-8 strings: label values may contain any character."""
    parts = [_U32.pack(len(labels))]
    for name, value in labels:
        for text in (name, value):
            raw = text.encode()
            parts.append(_U32.pack(len(raw)))
            parts.append(raw)
    return b"".join(parts)


def decode_labels(buf: bytes, pos: int = 0) -> tuple[Labels, int]:
    (count,) = _U32.unpack_from(buf, pos)
    pos += 4
    pairs: list[tuple[str, str]] = []
    for _ in range(count):
        texts: list[str] = []
        for _ in range(2):
            (length,) = _U32.unpack_from(buf, pos)
            pos += 4
            texts.append(buf[pos : pos + length].decode())
            pos += length
        pairs.append((texts[0], texts[1]))
    return tuple(pairs), pos


def iter_u32(buf: bytes) -> Iterator[int]:
    for (value,) in _U32.iter_unpack(buf):
        yield value
