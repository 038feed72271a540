"""The blocks of a data directory: loading, adding a cut, compaction, retention.

File names are ``FIRST-LAST-LEVEL.blk``: the range of cut sequence numbers a block
covers. Blocks are kept oldest first; for any one series, an older block only
holds older samples (append rules), so reads simply concatenate in this order.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from watchkeeper.monitor.storage.block import Block, DecodedCache, Group, write_block
from watchkeeper.monitor.storage.compact import merge_blocks

__all__ = ["BlockSet"]

MAX_LEVEL = 3
MERGE_FANIN = 4


class BlockSet:
    def __init__(self, directory: Path, cache: DecodedCache) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self._cache = cache
        self._entries: list[tuple[int, int, Block]] = []  # (first seq, last seq, block)
        self.compactions = 0
        self.deleted = 0

    @property
    def blocks(self) -> list[Block]:
        return [block for _, _, block in self._entries]

    def load(self) -> None:
        found: list[tuple[int, int, Path]] = []
        for path in self.dir.iterdir():
            if path.suffix == ".tmp":
                path.unlink()  # a block write interrupted by a crash
                continue
            parts = path.stem.split("-")
            if path.suffix == ".blk" and len(parts) == 3 and all(p.isdigit() for p in parts):
                found.append((int(parts[0]), int(parts[1]), path))
        # A crash between writing a merged block and deleting its sources leaves both:
        # a block whose range lies inside another's is such a source.
        found.sort(key=lambda f: (f[0], -f[1]))
        covered = -1
        for first, last, path in found:
            if last <= covered:
                path.unlink()
                continue
            covered = last
            self._entries.append((first, last, Block(path, self._cache)))

    def add(self, groups: Iterable[Group]) -> None:
        """Write a cut of the head as the newest level-0 block."""
        seq = self._entries[-1][1] + 1 if self._entries else 1
        path = self.dir / f"{seq:08d}-{seq:08d}-0.blk"
        write_block(path, groups, level=0)
        self._entries.append((seq, seq, Block(path, self._cache)))

    def compact(self) -> None:
        """Merge runs of MERGE_FANIN adjacent blocks of one level into the next level."""
        while (start := self._mergeable_run()) is not None:
            run = self._entries[start : start + MERGE_FANIN]
            first, last = run[0][0], run[-1][1]
            level = run[0][2].level + 1
            path = self.dir / f"{first:08d}-{last:08d}-{level}.blk"
            merge_blocks(path, [b for _, _, b in run], level=level)
            self._entries[start : start + MERGE_FANIN] = [(first, last, Block(path, self._cache))]
            for _, _, block in run:
                self._remove_file(block)
            self.compactions += 1

    def _mergeable_run(self) -> int | None:
        levels = [block.level for _, _, block in self._entries]
        for i in range(len(levels) - MERGE_FANIN + 1):
            if levels[i] < MAX_LEVEL and len(set(levels[i : i + MERGE_FANIN])) == 1:
                return i
        return None

    def drop_older_than(self, cutoff_ms: int) -> None:
        """Delete every block whose newest sample is older than ``cutoff_ms``."""
        for entry in [e for e in self._entries if e[2].maxt < cutoff_ms]:
            self._entries.remove(entry)
            self._remove_file(entry[2])
            self.deleted += 1

    def drop_oldest(self) -> bool:
        if not self._entries:
            return False
        _, _, block = self._entries.pop(0)
        self._remove_file(block)
        self.deleted += 1
        return True

    def _remove_file(self, block: Block) -> None:
        block.close()
        block.path.unlink(missing_ok=True)

    def nbytes(self) -> int:
        return sum(block.nbytes for _, _, block in self._entries)

    def close(self) -> None:
        for _, _, block in self._entries:
            block.close()
