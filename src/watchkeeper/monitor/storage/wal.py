"""Write-ahead log: one record per commit, in numbered segment files.

Durability model: each commit is one ``write()`` of one record. After ``kill -9``
the kernel's page cache still holds every completed write, so only a commit in
flight can be lost; ``fsync=True`` extends that to power loss. When the head is
cut into a block, a new segment starts and the older ones are deleted once the
block is safely on disk (the checkpoint).

Sample record: ``u8 kind | u32 n | u8 flags | n x u32 sid | ts | n x f64 value``
where ``ts`` is one int64 when the flag says all samples share it (a scrape).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt

from watchkeeper.monitor.model import Labels
from watchkeeper.monitor.storage.block import fsync_dir
from watchkeeper.monitor.storage.records import (
    RecordFile,
    decode_labels,
    encode_labels,
    read_records,
)

__all__ = ["SeriesLog", "Wal"]

_SAMPLES = 1
_SAME_TS = 1
_HEAD = struct.Struct("<BIB")
_SID = struct.Struct("<I")

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
U32 = npt.NDArray[np.uint32]


def _segment_name(number: int) -> str:
    return f"{number:08d}.seg"


class Wal:
    def __init__(self, directory: Path, *, fsync: bool) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self._fsync = fsync
        self._current: RecordFile | None = None
        self.number = 0

    def segments(self) -> list[tuple[int, Path]]:
        out = []
        for path in self.dir.glob("*.seg"):
            if path.stem.isdigit():
                out.append((int(path.stem), path))
        return sorted(out)

    def replay(self) -> Iterator[tuple[U32, I64, F64]]:
        """Every intact sample record, oldest first; torn tails are cut off the files."""
        for number, path in self.segments():
            records, valid = read_records(path)
            if valid != path.stat().st_size:
                RecordFile(path, valid_length=valid).close()
            self.number = max(self.number, number)
            for payload in records:
                if payload[0] == _SAMPLES:
                    yield decode_samples(payload)

    def start_segment(self) -> int:
        """Close the current segment and open the next; returns the new number."""
        if self._current is not None:
            self._current.close()
        self.number += 1
        self._current = RecordFile(self.dir / _segment_name(self.number), fsync=self._fsync)
        return self.number

    def log(self, sids: U32, timestamps: I64, values: F64) -> int:
        if self._current is None:
            self.start_segment()
        assert self._current is not None
        return self._current.append(*encode_samples(sids, timestamps, values))

    def drop_before(self, number: int) -> None:
        """Delete segments older than ``number`` (their samples are in a block now)."""
        for n, path in self.segments():
            if n < number:
                path.unlink(missing_ok=True)

    def nbytes(self) -> int:
        total = 0
        for _, path in self.segments():
            try:
                total += path.stat().st_size
            except FileNotFoundError:  # checkpointed meanwhile
                pass
        return total

    def close(self) -> None:
        if self._current is not None:
            self._current.close()
            self._current = None


def encode_samples(sids: U32, timestamps: I64, values: F64) -> tuple[bytes, ...]:
    n = len(sids)
    same = n > 0 and bool((timestamps == timestamps[0]).all())
    ts = timestamps[:1] if same else timestamps
    return (
        _HEAD.pack(_SAMPLES, n, _SAME_TS if same else 0),
        sids.astype("<u4").tobytes(),
        ts.astype("<i8").tobytes(),
        values.astype("<f8").tobytes(),
    )


def decode_samples(payload: bytes) -> tuple[U32, I64, F64]:
    _, n, flags = _HEAD.unpack_from(payload)
    pos = _HEAD.size
    sids = np.frombuffer(payload, "<u4", n, pos).astype(np.uint32)
    pos += 4 * n
    nts = 1 if flags & _SAME_TS else n
    ts = np.frombuffer(payload, "<i8", nts, pos).astype(np.int64)
    pos += 8 * nts
    if nts != n:
        ts = np.full(n, ts[0] if n else 0, dtype=np.int64)
    values = np.frombuffer(payload, "<f8", n, pos).astype(np.float64)
    return sids, ts, values


class SeriesLog:
    """series.log: every series ever created, as (id, labels), appended before use."""

    def __init__(self, path: Path, *, fsync: bool) -> None:
        self.path = path
        self._fsync = fsync
        self._file: RecordFile | None = None

    def replay(self) -> Iterator[tuple[int, Labels]]:
        valid = 0
        if self.path.exists():
            records, valid = read_records(self.path)
            for payload in records:
                pos = 0
                while pos < len(payload):
                    (sid,) = _SID.unpack_from(payload, pos)
                    labels, pos = decode_labels(payload, pos + 4)
                    yield sid, labels
        self._file = RecordFile(self.path, fsync=self._fsync, valid_length=valid)

    def log(self, entries: list[tuple[int, Labels]]) -> None:
        if not entries:
            return
        assert self._file is not None, "SeriesLog.replay() must run first"
        self._file.append(*(_SID.pack(sid) + encode_labels(labels) for sid, labels in entries))

    def rewrite(self, entries: list[tuple[int, Labels]]) -> None:
        """Replace the log by ``entries`` (the live series), atomically."""
        tmp = self.path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        out = RecordFile(tmp, fsync=False)
        for start in range(0, len(entries), 10_000):
            chunk = entries[start : start + 10_000]
            out.append(*(_SID.pack(sid) + encode_labels(labels) for sid, labels in chunk))
        out.sync()
        out.close()
        if self._file is not None:
            self._file.close()
        os.replace(tmp, self.path)
        fsync_dir(self.path.parent)
        self._file = RecordFile(self.path, fsync=self._fsync)

    def nbytes(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
