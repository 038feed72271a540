"""An in-memory ``Appendable`` + ``Queryable`` for tests, promqltest and rules unit tests."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from watchkeeper.monitor.model import Labels, Matcher, SeriesData

__all__ = ["MemoryStorage"]


class MemoryStorage:
    """Holds every sample in Python lists; appends follow Prometheus' ordering rules."""

    def __init__(self) -> None:
        self._series: dict[Labels, tuple[list[int], list[float]]] = {}
        self.rejected_out_of_order = 0

    def append(self, labels: Labels, timestamp_ms: int, value: float) -> bool:
        ts, vs = self._series.setdefault(labels, ([], []))
        if ts and timestamp_ms <= ts[-1]:
            self.rejected_out_of_order += 1
            return False
        ts.append(timestamp_ms)
        vs.append(value)
        return True

    def commit(self) -> None:
        """Nothing to flush: appends are visible at once."""

    def clear(self) -> None:
        self._series.clear()

    def _matching(self, matchers: Sequence[Matcher]) -> Iterator[Labels]:
        for labels in self._series:
            if all(m.matches_labels(labels) for m in matchers):
                yield labels

    def select(
        self, matchers: Sequence[Matcher], mint_ms: int, maxt_ms: int
    ) -> Iterator[SeriesData]:
        for labels in sorted(self._matching(matchers)):
            ts, vs = self._series[labels]
            t = np.asarray(ts, dtype=np.int64)
            v = np.asarray(vs, dtype=np.float64)
            lo, hi = np.searchsorted(t, mint_ms, "left"), np.searchsorted(t, maxt_ms, "right")
            if hi > lo:
                yield SeriesData(labels, t[lo:hi], v[lo:hi])

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        return sorted({k for labels in self._matching(matchers) for k, _ in labels})

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        values = {v for labels in self._matching(matchers) for k, v in labels if k == name}
        return sorted(values)
