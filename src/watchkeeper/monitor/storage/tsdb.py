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
from watchkeeper.monitor.storage.block import DecodedCache
from watchkeeper.monitor.storage.blockset import BlockSet
from watchkeeper.monitor.storage.compact import groups_from_head
from watchkeeper.monitor.storage.head import Head, HeadSnapshot
from watchkeeper.monitor.storage.read import has_samples, read_series
from watchkeeper.monitor.storage.series import SeriesRegistry
from watchkeeper.monitor.storage.wal import SeriesLog, Wal

__all__ = ["TSDB", "open_storage"]

_NO_TS = -(2**63)
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
U32 = npt.NDArray[np.uint32]
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
        self._blocks = BlockSet(self.dir / "blocks", self._cache)
        self._maxt = _NO_TS
        self._counters = dict.fromkeys(
            (
                "samples_appended",
                "rejected_out_of_order",
                "rejected_duplicate",
                "commits",
                "head_cuts",
                "series_removed",
                "wal_bytes_written",
            ),
            0,
        )
        self._series_log = SeriesLog(self.dir / "series.log", fsync=fsync)
        self._wal = Wal(self.dir / "wal", fsync=fsync)
        self._closed = False
        # Bumped when expired series are forgotten: cached ``ref`` results are then stale.
        self.ref_generation = 0
        try:
            self._open()
        except BaseException:
            # Release the directory: the caller may fix the problem and open it again.
            self._wal.close()
            self._series_log.close()
            self._blocks.close()
            os.close(self._lock_fd)
            raise

    # -- opening -----------------------------------------------------------

    def _open(self) -> None:
        for sid, labels in self._series_log.replay():
            self._registry.add(labels, sid)
        self._last_ts.extend([_NO_TS] * len(self._registry.labels))
        self._last_val.extend([0.0] * len(self._registry.labels))
        self._blocks.load()
        last_ts = np.frombuffer(self._last_ts, dtype=np.int64)
        last_val = np.frombuffer(self._last_val, dtype=np.float64)
        for block in self._blocks.blocks:
            sids = block.sids.astype(np.int64)
            known = sids < len(last_ts)
            last_ts[sids[known]] = block.index["maxt"][known]
            last_val[sids[known]] = block.index["last"][known]
            self._maxt = max(self._maxt, block.maxt)
        del last_ts, last_val  # release the buffer views before the arrays grow again
        for batch in self._wal.replay():
            self._replay_batch(*batch)
        self._wal.start_segment()

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

    def labels_of(self, ref: int) -> Labels:
        """The label set of a series reference (KeyError once the series was forgotten)."""
        return self._registry.label_set(ref)

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
                self.append(self._registry.label_set(r), timestamp_ms, v)
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
            first_new_segment = self._wal.start_segment()
            self._blocks.add(groups)
            # The checkpoint: the head's samples are in a fsynced block, drop their WAL.
            self._wal.drop_before(first_new_segment)
            self._head.clear()
            self._counters["head_cuts"] += 1
            self._blocks.compact()
            self._apply_retention()

    def _apply_retention(self) -> None:
        """Drop whole blocks, oldest first, by age (relative to the newest sample) and size."""
        deleted = self._blocks.deleted
        if self.retention_ms is not None and self._maxt != _NO_TS:
            self._blocks.drop_older_than(self._maxt - self.retention_ms)
        if self.retention_bytes is not None:
            while self.bytes_on_disk() > self.retention_bytes and self._blocks.drop_oldest():
                pass
        if self._blocks.deleted != deleted:
            self._forget_expired_series()

    def _forget_expired_series(self) -> None:
        """Series left without any sample are forgotten, and the series log rewritten.

        Without this, series churn (new pods, new label values) would grow memory and
        the series log forever even though retention bounds the samples. Series
        references handed out by ``ref`` become invalid: ``ref_generation`` changes.
        """
        alive = np.zeros(len(self._registry.labels), np.bool_)
        for block in self._blocks.blocks:
            alive[block.sids] = True
        alive[np.frombuffer(self._pending_sids, dtype=np.uint32)] = True
        snap = self._head.snapshot()
        alive[snap.sids] = True
        for sid, _ in self._new_series:
            alive[sid] = True
        known = np.fromiter(self._registry.ids.values(), dtype=np.int64)
        dead = known[~alive[known]]
        if len(dead) == 0:
            return
        self._registry.remove(dead.tolist())
        np.frombuffer(self._last_ts, dtype=np.int64)[dead] = _NO_TS
        live = [(sid, labels) for labels, sid in self._registry.ids.items()]
        self._series_log.rewrite(sorted(live, key=lambda entry: entry[0]))
        self.ref_generation += 1
        self._counters["series_removed"] += len(dead)

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
            snap = self._head_snapshot(mint_ms, maxt_ms)
            found = read_series(self._blocks.blocks, snap, sids, mint_ms, maxt_ms)
            label_set = self._registry.label_set
            result = [
                SeriesData(label_set(sid), part[0], part[1])
                for sid, part in zip(sids, found, strict=True)
                if part is not None
            ]
        result.sort(key=lambda s: s.labels)
        return iter(result)

    def _head_snapshot(self, mint_ms: int, maxt_ms: int) -> HeadSnapshot | None:
        """The head's samples when they overlap [mint_ms, maxt_ms], else None (lock held)."""
        head = self._head
        if head.samples and head.mint <= maxt_ms and head.maxt >= mint_ms:
            return head.snapshot()
        return None

    def series(self, matchers: Sequence[Matcher], mint_ms: int, maxt_ms: int) -> list[Labels]:
        """Label sets of the matching series with samples in [mint_ms, maxt_ms], sorted.

        Like ``select`` without the samples (for /api/v1/series): mostly answered from
        block indexes, without decoding.
        """
        with self._lock:
            self._check_open()
            sids = self._registry.matching(matchers)
            snap = self._head_snapshot(mint_ms, maxt_ms)
            found = has_samples(self._blocks.blocks, snap, sids, mint_ms, maxt_ms)
            label_set = self._registry.label_set
            return sorted(label_set(sid) for sid, ok in zip(sids, found, strict=True) if ok)

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        with self._lock:
            return self._registry.label_names(matchers)

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        with self._lock:
            return self._registry.label_values(name, matchers)

    # -- housekeeping ------------------------------------------------------

    def bytes_on_disk(self) -> int:
        blocks = self._blocks.nbytes()
        return blocks + self._wal.nbytes() + self._series_log.nbytes()

    def stats(self) -> dict[str, float]:
        """Numbers for the monitor's own /metrics (names without a prefix)."""
        with self._lock:
            out: dict[str, float] = {k: float(v) for k, v in self._counters.items()}
            out["series"] = float(len(self._registry))
            out["head_series"] = float(self._head.series)
            out["head_samples"] = float(self._head.samples)
            out["head_chunks"] = float(self._head.series)
            blocks = self._blocks.blocks
            out["blocks"] = float(len(blocks))
            out["block_samples"] = float(sum(b.samples for b in blocks))
            out["compactions"] = float(self._blocks.compactions)
            out["blocks_deleted_retention"] = float(self._blocks.deleted)
            out["bytes_on_disk"] = float(self.bytes_on_disk())
            out["wal_bytes"] = float(self._wal.nbytes())
            out["min_time_ms"] = float(self._min_time())
            out["max_time_ms"] = float(self._maxt) if self._maxt != _NO_TS else math.nan
            return out

    def _min_time(self) -> float:
        times = [b.mint for b in self._blocks.blocks]
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
            self._blocks.close()
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
    """Open (or create) the store in ``data_dir``; replays the WAL after a crash.

    Retention (either or both) drops whole blocks, oldest first: by age relative to
    the newest sample, and by total size of the directory. ``fsync=True`` makes every
    commit survive power loss, not only a crash of the process.
    """
    if retention_seconds is not None and retention_seconds <= 0:
        raise ValueError(
            f"retention_seconds must be > 0 (or None to keep all), got {retention_seconds}"
        )
    if retention_bytes is not None and retention_bytes <= 0:
        raise ValueError(
            f"retention_bytes must be > 0 (or None for no limit), got {retention_bytes}"
        )
    return TSDB(
        data_dir,
        retention_seconds=retention_seconds,
        retention_bytes=retention_bytes,
        fsync=fsync,
    )
