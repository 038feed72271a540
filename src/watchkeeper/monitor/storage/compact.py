"""Building block groups: from the head (a cut) and from adjacent blocks (a compaction).

Merging blocks is done group-wise, not series-wise: series that lived in the
same source groups (same "signature") form one merged group whose values are
the source matrices side by side. Larger blocks compress better (one header and
one timestamp column per group instead of four) and keep files and index rows few.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from watchkeeper.monitor.storage.block import Block, Group, write_block
from watchkeeper.monitor.storage.head import HeadSnapshot

__all__ = ["groups_from_head", "merge_blocks"]


def groups_from_head(snap: HeadSnapshot) -> list[Group]:
    """Group the head's series by identical timestamp columns."""
    by_ts: dict[bytes, list[tuple[int, int]]] = {}
    ts = snap.timestamps
    for sid, lo, hi in snap.groups():
        by_ts.setdefault(ts[lo:hi].tobytes(), []).append((sid, lo))
    out = []
    for members in by_ts.values():
        sids = np.array([m[0] for m in members], dtype=np.uint32)
        los = np.array([m[1] for m in members], dtype=np.int64)
        n = _length(snap, int(sids[0]), int(los[0]))
        idx = los[:, None] + np.arange(n)
        out.append(Group(ts[los[0] : los[0] + n].copy(), sids, snap.values[idx]))
    return out


def _length(snap: HeadSnapshot, sid: int, lo: int) -> int:
    return int(np.searchsorted(snap.sids, sid, "right")) - lo


def _merged(blocks: Sequence[Block]) -> Iterator[Group]:
    sids = np.unique(np.concatenate([b.sids for b in blocks]))
    # signature[i, b] = group of series sids[i] in block b, or -1.
    signature = np.full((len(sids), len(blocks)), -1, dtype=np.int64)
    rows = np.full((len(sids), len(blocks)), -1, dtype=np.int64)
    for b, block in enumerate(blocks):
        pos = np.searchsorted(sids, block.sids)
        signature[pos, b] = block.index["group"]
        rows[pos, b] = block.index["row"]
    unique, inverse = np.unique(signature, axis=0, return_inverse=True)
    order = np.argsort(inverse.reshape(-1), kind="stable")
    bounds = np.searchsorted(inverse.reshape(-1)[order], np.arange(len(unique) + 1))
    for u, sig in enumerate(unique):
        members = order[bounds[u] : bounds[u + 1]]
        ts_parts, val_parts = [], []
        for b, group in enumerate(sig.tolist()):
            if group < 0:
                continue
            t, v = blocks[b].group(group)
            ts_parts.append(t)
            val_parts.append(v[rows[members, b]])
        yield Group(
            np.concatenate(ts_parts),
            sids[members].astype(np.uint32),
            np.hstack(val_parts) if len(val_parts) > 1 else val_parts[0],
        )


def merge_blocks(path: Path, blocks: Sequence[Block], *, level: int) -> None:
    """Write the union of ``blocks`` (given oldest first) to ``path``."""
    write_block(path, _merged(blocks), level=level, zstd_level=9 if level >= 2 else 6)
