"""Immutable on-disk blocks: every series' samples for a stretch of time.

File layout::

    b"WKBLK002" | zstd(group) ... | zstd(footer) | u64 footer offset | u32 footer length | magic

A *group* is a set of series sharing one timestamp column (series scraped
together), encoded column-wise by ``encoding.encode_group`` and compressed as
one zstd frame, so neighbouring series (the buckets of a histogram) also
compress against each other. The footer holds a JSON header, the group table
and one index row per series (sorted by series id) saying where it lives.
Blocks are written under a temporary name, fsynced and renamed: a crash never
leaves half a block.
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

from watchkeeper.errors import StorageError
from watchkeeper.monitor.storage.encoding import decode_group, encode_group

__all__ = ["Block", "DecodedCache", "Group", "SeriesChunk", "write_block"]

MAGIC = b"WKBLK002"
_TAIL = struct.Struct("<QI")
MAX_GROUP_ROWS = 512

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
U32 = npt.NDArray[np.uint32]

INDEX_DTYPE = np.dtype(
    [
        ("sid", "<u4"),
        ("group", "<u4"),
        ("row", "<u4"),
        ("count", "<u4"),
        ("mint", "<i8"),
        ("maxt", "<i8"),
        ("last", "<f8"),
    ]
)
GROUP_DTYPE = np.dtype(
    [("offset", "<u8"), ("length", "<u4"), ("rows", "<u4"), ("mint", "<i8"), ("maxt", "<i8")]
)


@dataclass(frozen=True, slots=True)
class SeriesChunk:
    sid: int
    timestamps: I64
    values: F64


@dataclass(frozen=True, slots=True)
class Group:
    """Series ``sids`` (ascending) sharing ``timestamps``; ``values[i]`` belongs to ``sids[i]``."""

    timestamps: I64
    sids: U32
    values: F64


def write_block(path: Path, groups: Iterable[Group], *, level: int, zstd_level: int = 3) -> None:
    """Write ``groups`` (each series in exactly one group) as a block file, atomically."""
    tmp = path.with_suffix(".tmp")
    cctx = zstandard.ZstdCompressor(level=zstd_level)
    table: list[tuple[int, int, int, int, int]] = []
    index_parts: list[npt.NDArray[np.void]] = []
    pos = len(MAGIC)
    with open(tmp, "wb") as fh:
        fh.write(MAGIC)
        for group in groups:
            t = group.timestamps
            for start in range(0, len(group.sids), MAX_GROUP_ROWS):
                sids = group.sids[start : start + MAX_GROUP_ROWS]
                values = group.values[start : start + MAX_GROUP_ROWS]
                data = cctx.compress(encode_group(t, values))
                fh.write(data)
                rows = np.zeros(len(sids), INDEX_DTYPE)
                rows["sid"] = sids
                rows["group"] = len(table)
                rows["row"] = np.arange(len(sids))
                rows["count"] = len(t)
                rows["mint"] = t[0]
                rows["maxt"] = t[-1]
                rows["last"] = values[:, -1]
                index_parts.append(rows)
                table.append((pos, len(data), len(sids), int(t[0]), int(t[-1])))
                pos += len(data)
        index = np.concatenate(index_parts) if index_parts else np.zeros(0, INDEX_DTYPE)
        index = index[np.argsort(index["sid"], kind="stable")]
        if len(index) > 1 and (np.diff(index["sid"].astype(np.int64)) == 0).any():
            raise StorageError(f"{path}: internal error, a series appears in two groups")
        groups_arr = np.array(table, dtype=GROUP_DTYPE)
        header = {
            "level": level,
            "series": len(index),
            "groups": len(table),
            "samples": int(index["count"].sum()),
            "mint": int(index["mint"].min()) if len(index) else 0,
            "maxt": int(index["maxt"].max()) if len(index) else 0,
        }
        head = json.dumps(header).encode()
        footer = struct.pack("<I", len(head)) + head + groups_arr.tobytes() + index.tobytes()
        packed = cctx.compress(footer)
        fh.write(packed)
        fh.write(_TAIL.pack(pos, len(packed)))
        fh.write(MAGIC)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class DecodedCache:
    """LRU of decoded groups shared by all blocks, bounded in bytes."""

    def __init__(self, budget_bytes: int = 64 * 1024 * 1024) -> None:
        self.budget = budget_bytes
        self.used = 0
        self._items: OrderedDict[tuple[int, int], tuple[I64, F64]] = OrderedDict()

    def get(self, key: tuple[int, int]) -> tuple[I64, F64] | None:
        item = self._items.get(key)
        if item is not None:
            self._items.move_to_end(key)
        return item

    def put(self, key: tuple[int, int], item: tuple[I64, F64]) -> None:
        self._items[key] = item
        self.used += item[0].nbytes + item[1].nbytes
        while self.used > self.budget and len(self._items) > 1:
            _, (t, v) = self._items.popitem(last=False)
            self.used -= t.nbytes + v.nbytes

    def forget(self, block_id: int) -> None:
        for key in [k for k in self._items if k[0] == block_id]:
            t, v = self._items.pop(key)
            self.used -= t.nbytes + v.nbytes


class Block:
    """A read-only block; the footer stays in memory, groups are read and decoded on demand."""

    _next_id = 0

    def __init__(self, path: Path, cache: DecodedCache | None = None) -> None:
        self.path = path
        self.cache = cache if cache is not None else DecodedCache(8 * 1024 * 1024)
        Block._next_id += 1
        self.id = Block._next_id
        self._fd = os.open(path, os.O_RDONLY)
        try:
            self._load_footer()
        except (ValueError, struct.error, zstandard.ZstdError) as exc:
            os.close(self._fd)
            msg = f"{path}: corrupt block ({exc}); move it out of the data directory"
            raise StorageError(msg) from None
        self._dctx = zstandard.ZstdDecompressor()

    def _load_footer(self) -> None:
        size = os.fstat(self._fd).st_size
        if size < 2 * len(MAGIC) + _TAIL.size:
            raise ValueError("file too short")
        tail = os.pread(self._fd, _TAIL.size + len(MAGIC), size - _TAIL.size - len(MAGIC))
        if tail[_TAIL.size :] != MAGIC:
            raise ValueError("bad magic")
        offset, length = _TAIL.unpack_from(tail)
        footer = zstandard.ZstdDecompressor().decompress(os.pread(self._fd, length, offset))
        (hlen,) = struct.unpack_from("<I", footer)
        self.meta: dict[str, int] = json.loads(footer[4 : 4 + hlen])
        pos = 4 + hlen
        self.groups = np.frombuffer(footer, GROUP_DTYPE, self.meta["groups"], pos).copy()
        pos += self.groups.nbytes
        self.index = np.frombuffer(footer, INDEX_DTYPE, self.meta["series"], pos).copy()
        self.sids = np.ascontiguousarray(self.index["sid"])
        self.mint: int = self.meta["mint"]
        self.maxt: int = self.meta["maxt"]
        self.level: int = self.meta["level"]
        self.samples: int = self.meta["samples"]
        self.nbytes = size

    def group(self, number: int) -> tuple[I64, F64]:
        """Decoded (timestamps, values matrix) of group ``number``."""
        key = (self.id, number)
        item = self.cache.get(key)
        if item is None:
            entry = self.groups[number]
            raw = os.pread(self._fd, int(entry["length"]), int(entry["offset"]))
            item = decode_group(self._dctx.decompress(raw))
            self.cache.put(key, item)
        return item

    def row_of(self, sid: int) -> int:
        """Index row of ``sid``, or -1 when the block has no samples of it."""
        i = int(np.searchsorted(self.sids, sid))
        return i if i < len(self.sids) and int(self.sids[i]) == sid else -1

    def read_row(self, row: int) -> SeriesChunk:
        entry = self.index[row]
        t, v = self.group(int(entry["group"]))
        return SeriesChunk(int(entry["sid"]), t, v[int(entry["row"])])

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self.cache.forget(self.id)
