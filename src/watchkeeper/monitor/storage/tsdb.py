"""TSDB: the embedded time-series store (head + WAL + blocks), and ``open_storage``.

Directory layout::

    DIR/lock                  flock: one process per data dir
    DIR/series.log            every series' labels, appended before first use
    DIR/wal/NNNNNNNN.seg      one record per commit since the last cut
    DIR/blocks/F-L-LEVEL.blk  immutable compressed blocks (F..L: cut sequence numbers)

Life of a sample: ``append`` checks Prometheus' ordering rules and buffers it;
``commit`` writes the batch to the WAL and makes it visible; once the head holds
about ``head_chunk_samples`` samples per series it is cut into a level-0 block;
four adjacent blocks of one level are merged into one of the next level (larger
blocks compress better); retention then drops the oldest blocks.
"""

from __future__ import annotations

import fcntl
import math
import os
import struct
import threading
from array import array
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType

import numpy as np
import numpy.typing as npt

from watchkeeper.errors import StorageError
from watchkeeper.monitor.model import Labels, Matcher, SeriesData
from watchkeeper.monitor.storage.block import Block, DecodedCache, write_block
from watchkeeper.monitor.storage.compact import groups_from_head, merge_blocks
from watchkeeper.monitor.storage.head import Head
from watchkeeper.monitor.storage.read import read_series
from watchkeeper.monitor.storage.series import SeriesRegistry
from watchkeeper.monitor.storage.wal import SeriesLog, Wal

__all__ = ["TSDB", "open_storage"]

_NO_TS = -(2**63)
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
U32 = npt.NDArray[np.uint32]
_MAX_LEVEL = 3
_MERGE_FANIN = 4
_BITS = struct.Struct("<d")


def _same_bits(a: float, b: float) -> bool:
    # By bits, like Prometheus: NaN equals its own bits, and -0.0 differs from 0.0.
    return _BITS.pack(a) == _BITS.pack(b)


class TSDB:
    """Appendable + Queryable on a data directory. One writer thread, many readers."""

    def __init__(
        self,
        data_dir: str | Path,
        *,
        retention_seconds: float | None = None,
        retention_bytes: int | None = None,
        fsync: bool = False,
        head_chunk_samples: int = 32,
        min_cut_samples: int = 4096,
        max_head_span_ms: int = 2 * 3600 * 1000,
    ) -> None:
        self.dir = Path(data_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "blocks").mkdir(exist_ok=True)
        self._lock_fd = os.open(self.dir / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._lock_fd)
            msg = (
                f"{self.dir}: data directory is in use by another process; "
                "stop that process or use another --data-dir"
            )
            raise StorageError(msg) from None
        self.retention_ms = None if retention_seconds is None else int(retention_seconds * 1000)
        self.retention_bytes = retention_bytes
        self._head_chunk_samples = head_chunk_samples
        self._min_cut = min_cut_samples
        self._max_span = max_head_span_ms
        self._lock = threading.RLock()
        self._cache = DecodedCache()
        self._registry = SeriesRegistry()
        self._last_ts = array("q")
        self._last_val = array("d")
        self._pending_sids = array("I")
        self._pending_ts = array("q")
        self._pending_vals = array("d")
        self._new_series: list[tuple[int, Labels]] = []
        self._head = Head()
        self._blocks: list[tuple[int, int, Block]] = []  # (first seq, last seq, block)
        self._maxt = _NO_TS
        self._counters = dict.fromkeys(
            (
                "samples_appended",
                "rejected_out_of_order",
                "rejected_duplicate",
                "commits",
                "head_cuts",
                "compactions",
                "blocks_deleted_retention",
                "wal_bytes_written",
            ),
            0,
        )
        self._series_log = SeriesLog(self.dir / "series.log", fsync=fsync)
        self._wal = Wal(self.dir / "wal", fsync=fsync)
        self._closed = False
        self._open()

    # -- opening -----------------------------------------------------------

    def _open(self) -> None:
        for sid, labels in self._series_log.replay():
            self._registry.add(labels, sid)
            self._last_ts.append(_NO_TS)
            self._last_val.append(0.0)
        self._load_blocks()
        last_ts = np.frombuffer(self._last_ts, dtype=np.int64)
        last_val = np.frombuffer(self._last_val, dtype=np.float64)
        for _, _, block in self._blocks:
            sids = block.sids.astype(np.int64)
            known = sids < len(last_ts)
            last_ts[sids[known]] = block.index["maxt"][known]
            last_val[sids[known]] = block.index["last"][known]
            self._maxt = max(self._maxt, block.maxt)
        del last_ts, last_val  # release the buffer views before the arrays grow again
        for batch in self._wal.replay():
            self._replay_batch(*batch)
        self._wal.start_segment()

    def _load_blocks(self) -> None:
        found: list[tuple[int, int, Path]] = []
        for path in (self.dir / "blocks").iterdir():
            if path.suffix == ".tmp":
                path.unlink()  # a block write interrupted by a crash
                continue
            parts = path.stem.split("-")
            if path.suffix == ".blk" and len(parts) == 3 and all(p.isdigit() for p in parts):
                found.append((int(parts[0]), int(parts[1]), path))
        # A crash between writing a merged block and deleting its sources leaves both.
        found.sort(key=lambda f: (f[0], -f[1]))
        covered = -1
        for first, last, path in found:
            if last <= covered:
                path.unlink()
                continue
            covered = last
            self._blocks.append((first, last, Block(path, self._cache)))

    def _replay_batch(self, sids: U32, ts: I64, vals: F64) -> None:
        """Re-apply one WAL record; samples already in a block fail the ordering check."""
        known = sids < len(self._last_ts)
        if len(np.unique(sids)) == len(sids):
            # A scrape: each series once, so the ordering check is one vector comparison.
            last_ts = np.frombuffer(self._last_ts, dtype=np.int64)
            last_val = np.frombuffer(self._last_val, dtype=np.float64)
            keep = known.copy()
            keep[known] = ts[known] > last_ts[sids[known]]
            last_ts[sids[keep]] = ts[keep]
            last_val[sids[keep]] = vals[keep]
            del last_ts, last_val  # release the views so the arrays can grow later
        else:
            keep = np.zeros(len(sids), np.bool_)
            lts, lvals, n = self._last_ts, self._last_val, len(self._last_ts)
            rows = zip(sids.tolist(), ts.tolist(), vals.tolist(), strict=True)
            for i, (sid, t, v) in enumerate(rows):
                if sid < n and t > lts[sid]:
                    lts[sid] = t
                    lvals[sid] = v
                    keep[i] = True
        if keep.any():
            self._maxt = max(self._maxt, int(ts[keep].max()))
            self._head.add(sids[keep], ts[keep], vals[keep])

    # -- writing -----------------------------------------------------------

    def ref(self, labels: Labels) -> int:
        """The series reference of ``labels`` (created if new), for ``append_refs``.

        A reference stays valid for the life of this TSDB object; scrapers cache it
        so the steady state skips hashing label sets (like Prometheus' SeriesRef).
        """
        sid = self._registry.ids.get(labels)
        if sid is None:
            with self._lock:
                sid = self._registry.add(labels)
                self._last_ts.append(_NO_TS)
                self._last_val.append(0.0)
                self._new_series.append((sid, labels))
        return sid

    def append(self, labels: Labels, timestamp_ms: int, value: float) -> bool:
        """Buffer one sample; False when out of order or a different value at the same time."""
        sid = self._registry.ids.get(labels)
        if sid is None:
            sid = self.ref(labels)
        last = self._last_ts[sid]
        if timestamp_ms <= last:
            return self._reject(sid, timestamp_ms, value)
        self._last_ts[sid] = timestamp_ms
        self._last_val[sid] = value
        self._pending_sids.append(sid)
        self._pending_ts.append(timestamp_ms)
        self._pending_vals.append(value)
        return True

    def _reject(self, sid: int, timestamp_ms: int, value: float) -> bool:
        if timestamp_ms == self._last_ts[sid]:
            if _same_bits(value, self._last_val[sid]):
                return True  # Prometheus ignores an exact duplicate silently
            self._counters["rejected_duplicate"] += 1
        else:
            self._counters["rejected_out_of_order"] += 1
        return False

    def append_refs(self, refs: Sequence[int], timestamp_ms: int, values: Sequence[float]) -> int:
        """Append ``values[i]`` to series ``refs[i]``, all at one timestamp (a scrape).

        Same rules as ``append``, checked for the whole batch at once with numpy;
        returns how many samples were accepted (exact duplicates count as accepted).
        """
        sids = np.asarray(refs, dtype=np.int64)
        if len(sids) == 0:
            return 0
        if len(np.unique(sids)) != len(sids):
            return sum(
                self.append(self._registry.labels[r], timestamp_ms, v)
                for r, v in zip(refs, values, strict=True)
            )
        vals = np.asarray(values, dtype=np.float64)
        last_ts = np.frombuffer(self._last_ts, dtype=np.int64)
        last_val = np.frombuffer(self._last_val, dtype=np.float64)
        ok = last_ts[sids] < timestamp_ms
        if not ok.all():
            for i in np.flatnonzero(~ok).tolist():
                self._reject(int(sids[i]), timestamp_ms, float(vals[i]))
        accepted = int(np.count_nonzero(ok)) + int(
            np.count_nonzero(
                ~ok
                & (last_ts[sids] == timestamp_ms)
                & (last_val[sids].view(np.uint64) == vals.view(np.uint64))
            )
        )
        good = sids[ok]
        last_ts[good] = timestamp_ms
        last_val[good] = vals[ok]
        del last_ts, last_val  # release the buffer views so the arrays can grow again
        self._pending_sids.frombytes(good.astype(np.uint32).tobytes())
        self._pending_ts.frombytes(np.full(len(good), timestamp_ms, np.int64).tobytes())
        self._pending_vals.frombytes(vals[ok].tobytes())
        return accepted

    def commit(self) -> None:
        """Write the buffered batch to the WAL (one record) and make it visible."""
        with self._lock:
            self._check_open()
            sids = np.frombuffer(self._pending_sids, dtype=np.uint32).copy()
            ts = np.frombuffer(self._pending_ts, dtype=np.int64).copy()
            vals = np.frombuffer(self._pending_vals, dtype=np.float64).copy()
            self._pending_sids = array("I")
            self._pending_ts = array("q")
            self._pending_vals = array("d")
            self._series_log.log(self._new_series)
            self._new_series = []
            if len(sids) == 0:
                return
            self._counters["wal_bytes_written"] += self._wal.log(sids, ts, vals)
            self._head.add(sids, ts, vals)
            self._counters["samples_appended"] += len(sids)
            self._counters["commits"] += 1
            self._maxt = max(self._maxt, int(ts.max()))
            if self._should_cut():
                self.flush()

    def _should_cut(self) -> bool:
        head = self._head
        target = max(self._min_cut, self._head_chunk_samples * head.series)
        if head.samples >= target:
            return True
        # A small or idle setup still cuts every couple of hours (bounded WAL, retention
        # granularity), but never into blocks of only a few samples per series.
        wide = head.maxt - head.mint >= self._max_span
        return wide and head.samples >= min(self._min_cut, 8 * head.series)

    def flush(self) -> None:
        """Cut the head into a block now, then compact and apply retention."""
        with self._lock:
            self._check_open()
            if self._head.samples == 0:
                return
            groups = groups_from_head(self._head.snapshot())
            seq = self._next_seq()
            path = self.dir / "blocks" / f"{seq:08d}-{seq:08d}-0.blk"
            first_new_segment = self._wal.start_segment()
            write_block(path, groups, level=0)
            self._blocks.append((seq, seq, Block(path, self._cache)))
            self._wal.drop_before(first_new_segment)
            self._head.clear()
            self._counters["head_cuts"] += 1
            self._compact()
            self._apply_retention()

    def _next_seq(self) -> int:
        return self._blocks[-1][1] + 1 if self._blocks else 1

    def _compact(self) -> None:
        while True:
            run = self._mergeable_run()
            if run is None:
                return
            start = run
            group = self._blocks[start : start + _MERGE_FANIN]
            first, last = group[0][0], group[-1][1]
            level = group[0][2].level + 1
            path = self.dir / "blocks" / f"{first:08d}-{last:08d}-{level}.blk"
            merge_blocks(path, [b for _, _, b in group], level=level)
            self._blocks[start : start + _MERGE_FANIN] = [(first, last, Block(path, self._cache))]
            for _, _, block in group:
                block.close()
                block.path.unlink(missing_ok=True)
            self._counters["compactions"] += 1

    def _mergeable_run(self) -> int | None:
        blocks = self._blocks
        for i in range(len(blocks) - _MERGE_FANIN + 1):
            level = blocks[i][2].level
            if level < _MAX_LEVEL and all(
                blocks[j][2].level == level for j in range(i, i + _MERGE_FANIN)
            ):
                return i
        return None

    def _apply_retention(self) -> None:
        """Drop whole blocks, oldest first, by age (relative to the newest sample) and size."""
        if self.retention_ms is not None and self._maxt != _NO_TS:
            cutoff = self._maxt - self.retention_ms
            expired = [b for b in self._blocks if b[2].maxt < cutoff]
            for entry in expired:
                self._blocks.remove(entry)
                self._delete(entry[2])
        if self.retention_bytes is not None:
            while self._blocks and self.bytes_on_disk() > self.retention_bytes:
                self._drop_oldest_block()

    def _drop_oldest_block(self) -> None:
        _, _, block = self._blocks.pop(0)
        self._delete(block)

    def _delete(self, block: Block) -> None:
        block.close()
        block.path.unlink(missing_ok=True)
        self._counters["blocks_deleted_retention"] += 1

    # -- reading -----------------------------------------------------------

    def select(
        self, matchers: Sequence[Matcher], mint_ms: int, maxt_ms: int
    ) -> Iterator[SeriesData]:
        """Matching series with samples in [mint_ms, maxt_ms], sorted by labels.

        The arrays may be views of shared decoded chunks: treat them as read-only.
        """
        with self._lock:
            self._check_open()
            sids = self._registry.matching(matchers)
            head = self._head
            snap = None
            if head.samples and head.mint <= maxt_ms and head.maxt >= mint_ms:
                snap = head.snapshot()
            blocks = [b for _, _, b in self._blocks]
            found = read_series(blocks, snap, sids, mint_ms, maxt_ms)
            labels = self._registry.labels
            result = [
                SeriesData(labels[sid], part[0], part[1])
                for sid, part in zip(sids, found, strict=True)
                if part is not None
            ]
        result.sort(key=lambda s: s.labels)
        return iter(result)

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        with self._lock:
            return self._registry.label_names(matchers)

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        with self._lock:
            return self._registry.label_values(name, matchers)

    # -- housekeeping ------------------------------------------------------

    def bytes_on_disk(self) -> int:
        blocks = sum(b.nbytes for _, _, b in self._blocks)
        return blocks + self._wal.nbytes() + self._series_log.nbytes()

    def stats(self) -> dict[str, float]:
        """Numbers for the monitor's own /metrics (names without a prefix)."""
        with self._lock:
            out: dict[str, float] = {k: float(v) for k, v in self._counters.items()}
            out["series"] = float(len(self._registry))
            out["head_series"] = float(self._head.series)
            out["head_samples"] = float(self._head.samples)
            out["head_chunks"] = float(self._head.series)
            out["blocks"] = float(len(self._blocks))
            out["block_samples"] = float(sum(b.samples for _, _, b in self._blocks))
            out["bytes_on_disk"] = float(self.bytes_on_disk())
            out["wal_bytes"] = float(self._wal.nbytes())
            out["min_time_ms"] = float(self._min_time())
            out["max_time_ms"] = float(self._maxt) if self._maxt != _NO_TS else math.nan
            return out

    def _min_time(self) -> float:
        times = [b.mint for _, _, b in self._blocks]
        if self._head.samples:
            times.append(self._head.mint)
        return float(min(times)) if times else math.nan

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError(f"{self.dir}: storage is closed; open it again with open_storage()")

    def close(self) -> None:
        """Commit what is buffered and release the directory; the head stays in the WAL."""
        with self._lock:
            if self._closed:
                return
            self.commit()
            self._closed = True
            self._wal.close()
            self._series_log.close()
            for _, _, block in self._blocks:
                block.close()
            os.close(self._lock_fd)

    def __enter__(self) -> TSDB:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_storage(
    data_dir: str | Path,
    *,
    retention_seconds: float | None = None,
    retention_bytes: int | None = None,
    fsync: bool = False,
) -> TSDB:
    """Open (or create) the store in ``data_dir``; replays the WAL after a crash."""
    return TSDB(
        data_dir,
        retention_seconds=retention_seconds,
        retention_bytes=retention_bytes,
        fsync=fsync,
    )
