"""The series registry: label set <-> series id, and an inverted index for matchers."""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence

from watchkeeper.monitor.model import Labels, Matcher

__all__ = ["SeriesRegistry"]


class SeriesRegistry:
    """Series ids are ints in creation order, never reused; postings stay sorted for free.

    Removed series leave a ``None`` in ``labels`` (their id is never handed out again).
    """

    def __init__(self) -> None:
        self.ids: dict[Labels, int] = {}
        self.labels: list[Labels | None] = []
        # name -> value -> ids of the series carrying that pair (ascending).
        self.postings: dict[str, dict[str, array[int]]] = {}
        # Every distinct (name, value) pair once: series share pair tuples and strings,
        # which is most of the memory of a label set (e.g. ("le", "0.005") x 10,000).
        self._pairs: dict[tuple[str, str], tuple[str, str]] = {}

    def __len__(self) -> int:
        """Live series."""
        return len(self.ids)

    def add(self, labels: Labels, sid: int | None = None) -> int:
        """Register ``labels`` (as ``sid`` when replaying the series log)."""
        if sid is None:
            sid = len(self.labels)
        if sid < len(self.labels):
            msg = f"series log out of sequence: got id {sid}, expected {len(self.labels)} or more"
            raise ValueError(msg)
        while len(self.labels) < sid:  # ids of removed series
            self.labels.append(None)
        pairs = self._pairs
        labels = tuple([pairs.setdefault(pair, pair) for pair in labels])
        self.ids[labels] = sid
        self.labels.append(labels)
        for name, value in labels:
            by_value = self.postings.get(name)
            if by_value is None:
                by_value = self.postings[name] = {}
            ids = by_value.get(value)
            if ids is None:
                ids = by_value[value] = array("I")
            ids.append(sid)
        return sid

    def label_set(self, sid: int) -> Labels:
        labels = self.labels[sid]
        if labels is None:
            raise KeyError(f"series {sid} was removed (its data expired); look it up again")
        return labels

    def remove(self, sids: Iterable[int]) -> None:
        """Forget series (their data is gone); their ids are never reused."""
        dead = set(sids)
        touched: set[tuple[str, str]] = set()
        for sid in dead:
            labels = self.labels[sid]
            if labels is None:
                continue
            del self.ids[labels]
            self.labels[sid] = None
            touched.update(labels)
        for name, value in touched:
            by_value = self.postings[name]
            kept = array("I", [i for i in by_value[value] if i not in dead])
            if kept:
                by_value[value] = kept
            else:
                del by_value[value]
                if not by_value:
                    del self.postings[name]
        live_pairs = {pair for labels in self.ids for pair in labels}
        self._pairs = {pair: pair for pair in live_pairs}

    def _candidates(self, matcher: Matcher) -> set[int] | None:
        """Ids that may match, from the postings; None when the matcher accepts "" (absent)."""
        if matcher.matches(""):
            return None
        by_value = self.postings.get(matcher.name, {})
        if matcher.type.value == "=":
            return set(by_value.get(matcher.value, ()))
        out: set[int] = set()
        for value, ids in by_value.items():
            if matcher.matches(value):
                out.update(ids)
        return out

    def matching(self, matchers: Sequence[Matcher]) -> list[int]:
        """Ids of series matching every matcher, ascending."""
        candidates: set[int] | None = None
        for matcher in matchers:
            found = self._candidates(matcher)
            if found is None:
                continue
            candidates = found if candidates is None else candidates & found
            if not candidates:
                return []
        pool: Iterable[int] = sorted(self.ids.values()) if candidates is None else candidates
        rest = [m for m in matchers if m.matches("")]
        labels = self.labels
        return sorted(
            i
            for i in pool
            if (lb := labels[i]) is not None and all(m.matches_labels(lb) for m in rest)
        )

    def label_names(self, matchers: Sequence[Matcher]) -> list[str]:
        if not matchers:
            return sorted(self.postings)
        return sorted({k for i in self.matching(matchers) for k, _ in self.labels[i] or ()})

    def label_values(self, name: str, matchers: Sequence[Matcher]) -> list[str]:
        if not matchers:
            return sorted(self.postings.get(name, {}))
        values = {v for i in self.matching(matchers) for k, v in self.labels[i] or () if k == name}
        return sorted(values)
