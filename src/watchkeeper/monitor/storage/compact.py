"""Compaction: merge adjacent blocks into one larger block of the next level.

Larger blocks compress better (one header and one timestamp column per series
instead of four) and keep the number of files and index rows small.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from watchkeeper.monitor.storage.block import Block, SeriesChunk, write_block

__all__ = ["merge_blocks"]


def _merged(blocks: Sequence[Block]) -> Iterator[SeriesChunk]:
    """Each series' chunks from ``blocks`` (oldest first) concatenated, ascending sid."""
    sids = np.unique(np.concatenate([b.sids for b in blocks]))
    for sid in sids.tolist():
        parts = []
        for block in blocks:
            row = block.row_of(sid)
            if row >= 0:
                parts.append(block.read_row(row))
        if len(parts) == 1:
            yield parts[0]
        else:
            ts = np.concatenate([p.timestamps for p in parts])
            vs = np.concatenate([p.values for p in parts])
            yield SeriesChunk(sid, ts, vs)


def merge_blocks(path: Path, blocks: Sequence[Block], *, level: int) -> None:
    """Write the union of ``blocks`` (given oldest first) to ``path``."""
    write_block(path, _merged(blocks), level=level, zstd_level=9 if level >= 2 else 6)
