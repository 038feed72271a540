"""Immutable on-disk blocks: every series' samples for a stretch of time.

File layout::

    b"WKBLK001" | zstd frames ... | zstd(footer) | u64 footer offset | u32 footer length | magic

Each frame holds the encoded timestamps/values of up to ~256 KiB of series, so
zstd also exploits the similarity between neighbouring series (the buckets of a
histogram sit next to each other). Series scraped together share their
timestamps; each distinct timestamp column is stored once per block.

The footer holds a small JSON header, the frame table, the timestamp-column
table and one index row per series (sorted by series id). Blocks are written to
a temporary name, fsynced and renamed, so a crash never leaves half a block.
"""

from __future__ import annotations

import json
import os
import struct
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import zstandard

from watchkeeper.monitor.storage.encoding import (
    decode_ints,
    decode_values,
    encode_ints,
    encode_values,
)

__all__ = ["Block", "SeriesChunk", "write_block"]

MAGIC = b"WKBLK001"
_TAIL = struct.Struct("<QI")
_FRAME_TARGET = 256 * 1024
_CACHE_FRAMES = 32

# One row per series: where its values are, which timestamp column it uses.
INDEX_DTYPE = np.dtype(
    [
        ("sid", "<u4"),
        ("frame", "<u4"),
        ("offset", "<u4"),
        ("length", "<u4"),
        ("tcol", "<u4"),
        ("count", "<u4"),
        ("mint", "<i8"),
        ("maxt", "<i8"),
        ("last", "<f8"),
    ]
)
# Where each distinct timestamp column is.
TCOL_DTYPE = np.dtype([("frame", "<u4"), ("offset", "<u4"), ("length", "<u4")])
FRAME_DTYPE = np.dtype([("offset", "<u8"), ("length", "<u4")])


@dataclass(frozen=True, slots=True)
class SeriesChunk:
    sid: int
    timestamps: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]


class _FrameWriter:
    def __init__(self, fh: object, level: int) -> None:
        self._fh = fh
        self._cctx = zstandard.ZstdCompressor(level=level)
        self._buf: list[bytes] = []
        self._size = 0
        self.frames: list[tuple[int, int]] = []
        self.pos = len(MAGIC)

    def put(self, data: bytes) -> tuple[int, int, int]:
        """Queue ``data``; returns (frame number, offset in frame, length)."""
        where = (len(self.frames), self._size, len(data))
        self._buf.append(data)
        self._size += len(data)
        if self._size >= _FRAME_TARGET:
            self.flush()
        return where

    def flush(self) -> None:
        if not self._buf:
            return
        compressed = self._cctx.compress(b"".join(self._buf))
        self._fh.write(compressed)  # type: ignore[attr-defined]
        self.frames.append((self.pos, len(compressed)))
        self.pos += len(compressed)
        self._buf, self._size = [], 0


def write_block(
    path: Path, chunks: Iterable[SeriesChunk], *, level: int, zstd_level: int = 3
) -> None:
    """Write ``chunks`` (ascending sid, non-empty) as a block file at ``path``, atomically."""
    tmp = path.with_suffix(".tmp")
    rows: list[tuple[int, int, int, int, int, int, int, int, float]] = []
    tcols: dict[bytes, int] = {}
    tcol_rows: list[tuple[int, int, int]] = []
    with open(tmp, "wb") as fh:
        fh.write(MAGIC)
        frames = _FrameWriter(fh, zstd_level)
        for chunk in chunks:
            ts = chunk.timestamps
            key = ts.tobytes()
            tcol = tcols.get(key)
            if tcol is None:
                tcol = tcols[key] = len(tcol_rows)
                tcol_rows.append(frames.put(encode_ints(ts)))
            frame, offset, length = frames.put(encode_values(chunk.values))
            rows.append(
                (
                    chunk.sid,
                    frame,
                    offset,
                    length,
                    tcol,
                    len(ts),
                    int(ts[0]),
                    int(ts[-1]),
                    float(chunk.values[-1]),
                )
            )
        frames.flush()
        index = np.array(rows, dtype=INDEX_DTYPE)
        header = {
            "level": level,
            "series": len(rows),
            "samples": int(index["count"].sum()),
            "mint": int(index["mint"].min()) if rows else 0,
            "maxt": int(index["maxt"].max()) if rows else 0,
            "frames": len(frames.frames),
            "tcols": len(tcol_rows),
        }
        head = json.dumps(header).encode()
        footer = b"".join(
            (
                struct.pack("<I", len(head)),
                head,
                np.array(frames.frames, dtype=FRAME_DTYPE).tobytes(),
                np.array(tcol_rows, dtype=TCOL_DTYPE).tobytes(),
                index.tobytes(),
            )
        )
        packed = zstandard.ZstdCompressor(level=zstd_level).compress(footer)
        fh.write(packed)
        fh.write(_TAIL.pack(frames.pos, len(packed)))
        fh.write(MAGIC)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Block:
    """A read-only block; the footer stays in memory, frames are read on demand."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDONLY)
        try:
            self._load_footer()
        except Exception:
            os.close(self._fd)
            raise
        self._dctx = zstandard.ZstdDecompressor()
        self._cache: OrderedDict[int, bytes] = OrderedDict()

    def _load_footer(self) -> None:
        size = os.fstat(self._fd).st_size
        tail = os.pread(self._fd, _TAIL.size + len(MAGIC), size - _TAIL.size - len(MAGIC))
        if size < 2 * len(MAGIC) + _TAIL.size or tail[_TAIL.size :] != MAGIC:
            raise ValueError(f"{self.path}: not a watchkeeper block (bad magic); delete it")
        offset, length = _TAIL.unpack_from(tail)
        footer = zstandard.ZstdDecompressor().decompress(os.pread(self._fd, length, offset))
        (hlen,) = struct.unpack_from("<I", footer)
        self.meta: dict[str, int] = json.loads(footer[4 : 4 + hlen])
        pos = 4 + hlen
        self.frames = np.frombuffer(footer, FRAME_DTYPE, self.meta["frames"], pos)
        pos += self.frames.nbytes
        self.tcols = np.frombuffer(footer, TCOL_DTYPE, self.meta["tcols"], pos)
        pos += self.tcols.nbytes
        self.index = np.frombuffer(footer, INDEX_DTYPE, self.meta["series"], pos)
        self.sids = np.ascontiguousarray(self.index["sid"])
        self.mint = self.meta["mint"]
        self.maxt = self.meta["maxt"]
        self.level = self.meta["level"]
        self.samples = self.meta["samples"]
        self.nbytes = size

    def _frame(self, number: int) -> bytes:
        data = self._cache.get(number)
        if data is not None:
            self._cache.move_to_end(number)
            return data
        offset, length = self.frames[number]
        data = self._dctx.decompress(os.pread(self._fd, int(length), int(offset)))
        self._cache[number] = data
        if len(self._cache) > _CACHE_FRAMES:
            self._cache.popitem(last=False)
        return data

    def _slice(self, frame: int, offset: int, length: int) -> memoryview:
        return memoryview(self._frame(frame))[offset : offset + length]

    def row_of(self, sid: int) -> int:
        """Index row of ``sid``, or -1 when the block has no samples of it."""
        i = int(np.searchsorted(self.sids, sid))
        return i if i < len(self.sids) and int(self.sids[i]) == sid else -1

    def read_row(self, row: int) -> SeriesChunk:
        r = self.index[row]
        n = int(r["count"])
        tc = self.tcols[int(r["tcol"])]
        ts = decode_ints(self._slice(int(tc["frame"]), int(tc["offset"]), int(tc["length"])), n)
        vs = decode_values(self._slice(int(r["frame"]), int(r["offset"]), int(r["length"])), n)
        return SeriesChunk(int(r["sid"]), ts, vs)

    def read_all(self) -> list[SeriesChunk]:
        return [self.read_row(i) for i in range(len(self.index))]

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self._cache.clear()
