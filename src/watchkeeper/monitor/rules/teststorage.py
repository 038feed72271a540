"""The store behind the promtool runner: an in-memory ``Appendable`` + ``Queryable`` tuned
for its access pattern (input series loaded once, then read thousands of times; rule
outputs appended one sample per evaluation).

Series are indexed by metric name and keep their numpy arrays cached until the next
append, so a read costs a slice, not a conversion of Python lists.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt

from watchkeeper.monitor.model import Labels, Matcher, MatchType, SeriesData, metric_name

__all__ = ["UnitTestStorage"]


class _Series:
    __slots__ = ("_arrays", "labels", "ts", "vs")

    def __init__(self, labels: Labels) -> None:
        self.labels = labels
        self.ts: list[int] = []
        self.vs: list[float] = []
        self._arrays: tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]] | None = None

    def arrays(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        if self._arrays is None:
            self._arrays = (np.asarray(self.ts, np.int64), np.asarray(self.vs, np.float64))
        return self._arrays


class UnitTestStorage:
    def __init__(self) -> None:
        self._by_name: dict[str, dict[Labels, _Series]] = {}

    def append(self, labels: Labels, timestamp_ms: int, value: float) -> bool:
        by_labels = self._by_name.setdefault(metric_name(labels), {})
        series = by_labels.get(labels)
        if series is None:
            series = by_labels[labels] = _Series(labels)
        if series.ts and timestamp_ms <= series.ts[-1]:
            return False
        series.ts.append(timestamp_ms)
        series.vs.append(value)
        series._arrays = None
        return True

    def commit(self) -> None:
        """Appends are visible at once."""

    def _candidates(self, matchers: Sequence[Matcher]) -> Iterator[_Series]:
        for m in matchers:
            if m.name == "__name__" and m.type is MatchType.EQUAL:
                yield from self._by_name.get(m.value, {}).values()
                return
        for by_labels in self._by_name.values():
            yield from by_labels.values()

    def select(
        self, matchers: Sequence[Matcher], mint_ms: int, maxt_ms: int
    ) -> Iterator[SeriesData]:
        found = [
            s
            for s in self._candidates(matchers)
            if all(m.matches_labels(s.labels) for m in matchers)
        ]
        found.sort(key=lambda s: s.labels)
        for s in found:
            t, v = s.arrays()
            lo, hi = np.searchsorted(t, mint_ms, "left"), np.searchsorted(t, maxt_ms, "right")
            if hi > lo:
                yield SeriesData(s.labels, t[lo:hi], v[lo:hi])

    def _matching(self, matchers: Sequence[Matcher]) -> Iterator[_Series]:
        for s in self._candidates(matchers):
            if all(m.matches_labels(s.labels) for m in matchers):
                yield s

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        return sorted({k for s in self._matching(matchers) for k, _ in s.labels})

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        return sorted({v for s in self._matching(matchers) for k, v in s.labels if k == name})
