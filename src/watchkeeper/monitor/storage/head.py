"""The head: committed samples not yet cut into a block, kept as columnar batches.

A batch is one commit (typically one scrape): series ids, timestamps, values.
Two tricks keep memory near 8 bytes per sample: a scrape's samples usually
share one timestamp (stored once), and a target exposes the same series in the
same order every time (the id array of the previous batch is reused).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Head", "HeadSnapshot"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
U32 = npt.NDArray[np.uint32]


@dataclass(frozen=True, slots=True)
class HeadSnapshot:
    """All head samples sorted by (series id, time): series ``sid`` is rows [lo, hi)."""

    sids: U32
    timestamps: I64
    values: F64

    def span(self, sid: int) -> tuple[int, int]:
        lo = int(np.searchsorted(self.sids, sid, "left"))
        hi = int(np.searchsorted(self.sids, sid, "right"))
        return lo, hi

    def groups(self) -> list[tuple[int, int, int]]:
        """(sid, lo, hi) for every series in the snapshot, ascending sid."""
        if len(self.sids) == 0:
            return []
        starts = np.flatnonzero(np.diff(self.sids)) + 1
        los = np.concatenate(([0], starts))
        his = np.concatenate((starts, [len(self.sids)]))
        return [(int(self.sids[lo]), int(lo), int(hi)) for lo, hi in zip(los, his, strict=True)]


class Head:
    def __init__(self) -> None:
        self._batches: list[tuple[U32, I64 | int, F64]] = []
        self.samples = 0
        self.mint = 0
        self.maxt = 0
        self._seen = np.zeros(0, dtype=np.bool_)
        self.series = 0  # distinct series with samples in the head
        self._snapshot: HeadSnapshot | None = None

    def add(self, sids: U32, timestamps: I64, values: F64) -> None:
        if len(sids) == 0:
            return
        if self._batches:
            prev = self._batches[-1][0]
            if len(prev) == len(sids) and np.array_equal(prev, sids):
                sids = prev
        tmin, tmax = int(timestamps.min()), int(timestamps.max())
        ts: I64 | int = tmin if tmin == tmax else timestamps
        self._batches.append((sids, ts, values))
        if self.samples == 0:
            self.mint, self.maxt = tmin, tmax
        else:
            self.mint, self.maxt = min(self.mint, tmin), max(self.maxt, tmax)
        self.samples += len(sids)
        top = int(sids.max()) + 1
        if top > len(self._seen):
            grown = np.zeros(max(top, 2 * len(self._seen)), dtype=np.bool_)
            grown[: len(self._seen)] = self._seen
            self._seen = grown
        self.series += int(np.count_nonzero(~self._seen[sids]))
        self._seen[sids] = True
        self._snapshot = None

    def snapshot(self) -> HeadSnapshot:
        if self._snapshot is None:
            if not self._batches:
                empty = HeadSnapshot(
                    np.zeros(0, np.uint32), np.zeros(0, np.int64), np.zeros(0, np.float64)
                )
                self._snapshot = empty
                return empty
            sids = np.concatenate([b[0] for b in self._batches])
            ts = np.concatenate(
                [
                    np.full(len(s), t, dtype=np.int64) if isinstance(t, int) else t
                    for s, t, _ in self._batches
                ]
            )
            vals = np.concatenate([b[2] for b in self._batches])
            # Stable: batches are in commit order, so each series stays in time order.
            order = np.argsort(sids, kind="stable")
            self._snapshot = HeadSnapshot(sids[order], ts[order], vals[order])
        return self._snapshot

    def clear(self) -> None:
        self.__init__()  # type: ignore[misc]

    def nbytes(self) -> int:
        """Approximate heap bytes held by the batches (shared id arrays counted once)."""
        seen: set[int] = set()
        total = 0
        for sids, ts, vals in self._batches:
            if id(sids) not in seen:
                seen.add(id(sids))
                total += sids.nbytes
            total += vals.nbytes + (0 if isinstance(ts, int) else ts.nbytes)
        return total
