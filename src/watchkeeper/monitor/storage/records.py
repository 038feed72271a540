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

    def sync(self) -> None:
        os.fsync(self._fd)

    def size(self) -> int:
        return os.fstat(self._fd).st_size

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def encode_labels(labels: Labels) -> bytes:
    """u32 length, then names and values joined by 0xFF (a byte UTF-8 never contains)."""
    raw = b"\xff".join([text.encode() for pair in labels for text in pair])
    return _U32.pack(len(raw) if labels else 0xFFFFFFFF) + raw


def decode_labels(buf: bytes, pos: int = 0) -> tuple[Labels, int]:
    (length,) = _U32.unpack_from(buf, pos)
    pos += 4
    if length == 0xFFFFFFFF:  # the empty label set (distinct from one empty string)
        return (), pos
    texts = [part.decode() for part in buf[pos : pos + length].split(b"\xff")]
    return tuple(zip(texts[::2], texts[1::2], strict=True)), pos + length
