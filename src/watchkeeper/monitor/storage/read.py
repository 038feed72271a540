"""Reading many series at once from blocks and the head, vectorised per block.

A query asks for hundreds of series (every bucket of a histogram); looking them
up one by one would pay numpy's per-call overhead per series and per block.
Instead each block answers for all requested series with one ``searchsorted``,
and each group's time window is computed once for all its series.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from watchkeeper.monitor.storage.block import Block
from watchkeeper.monitor.storage.head import HeadSnapshot

__all__ = ["has_samples", "read_series"]

I64 = npt.NDArray[np.int64]
U32 = npt.NDArray[np.uint32]
F64 = npt.NDArray[np.float64]
Part = tuple[I64, F64]


def _from_block(block: Block, want: U32, mint: int, maxt: int, parts: list[list[Part]]) -> None:
    n = len(block.sids)
    if n == 0 or block.maxt < mint or block.mint > maxt:
        return
    pos = np.minimum(np.searchsorted(block.sids, want), n - 1)
    hit = np.flatnonzero(block.sids[pos] == want)
    rows = block.index[pos[hit]]
    keep = (rows["maxt"] >= mint) & (rows["mint"] <= maxt)
    hit, rows = hit[keep], rows[keep]
    windows: dict[int, tuple[I64, F64, int, int]] = {}
    for i, group, row in zip(
        hit.tolist(), rows["group"].tolist(), rows["row"].tolist(), strict=True
    ):
        window = windows.get(group)
        if window is None:
            t, v = block.group(group)
            lo = int(np.searchsorted(t, mint, "left"))
            hi = int(np.searchsorted(t, maxt, "right"))
            window = windows[group] = (t[lo:hi], v, lo, hi)
        t_in, v, lo, hi = window
        if hi > lo:
            parts[i].append((t_in, v[row, lo:hi]))


def _from_head(
    snap: HeadSnapshot, want: U32, mint: int, maxt: int, parts: list[list[Part]]
) -> None:
    los = np.searchsorted(snap.sids, want, "left")
    his = np.searchsorted(snap.sids, want, "right")
    for i in np.flatnonzero(his > los).tolist():
        t = snap.timestamps[los[i] : his[i]]
        v = snap.values[los[i] : his[i]]
        lo = int(np.searchsorted(t, mint, "left"))
        hi = int(np.searchsorted(t, maxt, "right"))
        if hi > lo:
            parts[i].append((t[lo:hi], v[lo:hi]))


def read_series(
    blocks: Sequence[Block], snap: HeadSnapshot | None, sids: Sequence[int], mint: int, maxt: int
) -> list[Part | None]:
    """For each sid: its samples in [mint, maxt] (oldest first), or None when it has none.

    Blocks must be given oldest first; per series their samples never overlap (append
    rules), so concatenating the parts keeps time order.
    """
    want = np.asarray(sids, dtype=np.uint32)
    parts: list[list[Part]] = [[] for _ in range(len(want))]
    if len(want):
        for block in blocks:
            _from_block(block, want, mint, maxt, parts)
        if snap is not None:
            _from_head(snap, want, mint, maxt, parts)
    out: list[Part | None] = []
    for found in parts:
        if not found:
            out.append(None)
        elif len(found) == 1:
            out.append(found[0])
        else:
            out.append(
                (np.concatenate([p[0] for p in found]), np.concatenate([p[1] for p in found]))
            )
    return out


def has_samples(
    blocks: Sequence[Block], snap: HeadSnapshot | None, sids: Sequence[int], mint: int, maxt: int
) -> list[bool]:
    """For each sid: whether it has a sample in [mint, maxt], decoding as little as possible.

    A block's index row whose whole time span lies inside the window answers without
    decoding; only rows straddling an edge decode their group (once per group).
    """
    want = np.asarray(sids, dtype=np.uint32)
    found = np.zeros(len(want), np.bool_)
    for block in blocks:
        n = len(block.sids)
        if n == 0 or block.maxt < mint or block.mint > maxt or found.all():
            continue
        pos = np.minimum(np.searchsorted(block.sids, want), n - 1)
        hit = np.flatnonzero((block.sids[pos] == want) & ~found)
        rows = block.index[pos[hit]]
        overlap = (rows["maxt"] >= mint) & (rows["mint"] <= maxt)
        inside = overlap & (rows["mint"] >= mint) & (rows["maxt"] <= maxt)
        found[hit[inside]] = True
        edge = overlap & ~inside
        windows: dict[int, bool] = {}
        for i, group in zip(hit[edge].tolist(), rows["group"][edge].tolist(), strict=True):
            if group not in windows:
                t, _ = block.group(group)
                lo = int(np.searchsorted(t, mint, "left"))
                windows[group] = lo < len(t) and int(t[lo]) <= maxt
            found[i] = found[i] or windows[group]
    if snap is not None and not found.all():
        los = np.searchsorted(snap.sids, want, "left")
        his = np.searchsorted(snap.sids, want, "right")
        for i in np.flatnonzero((his > los) & ~found).tolist():
            t = snap.timestamps[los[i] : his[i]]
            lo = int(np.searchsorted(t, mint, "left"))
            found[i] = lo < len(t) and int(t[lo]) <= maxt
    return [bool(x) for x in found]
