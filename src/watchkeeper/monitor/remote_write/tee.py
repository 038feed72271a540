"""The write path's tap: an ``Appendable`` in front of the store that hands every
committed sample to the remote writers.

Like Prometheus, which tails its WAL, only what the store accepted is sent (a sample
the store rejects as out of order would make a Prometheus receiver reject the whole
request with a 400), and only once committed. It offers ``append`` and ``commit``
only, so scrapers use the per-sample path instead of the store's series references.
"""

from __future__ import annotations

from collections.abc import Sequence

from watchkeeper.monitor.model import Appendable, Labels
from watchkeeper.monitor.remote_write.writer import RemoteWriter, Sample

__all__ = ["RemoteWriteAppendable"]


class RemoteWriteAppendable:
    """``store`` plus a copy of each committed batch for every writer in ``writers``.

    Like the store, it expects one writer at a time (the monitor's writer lock)."""

    def __init__(self, store: Appendable, writers: Sequence[RemoteWriter]) -> None:
        self._store = store
        self._writers = list(writers)
        self._pending: list[Sample] = []

    def append(self, labels: Labels, timestamp_ms: int, value: float) -> bool:
        accepted = self._store.append(labels, timestamp_ms, value)
        if accepted:
            self._pending.append((labels, timestamp_ms, value))
        return accepted

    def commit(self) -> None:
        pending, self._pending = self._pending, []
        self._store.commit()  # raises: nothing was committed, nothing is sent
        for writer in self._writers:
            writer.offer(pending)
