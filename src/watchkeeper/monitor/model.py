"""The data model the monitor's subsystems share: labels, matchers, series.

Storage, scrape, PromQL and rules meet only through these types and the two
protocols below (``Appendable``, ``Queryable``); ``server.py`` wires them.

Conventions (the same as Prometheus'):
- timestamps are int milliseconds since the epoch; values are float64;
- a label set is a tuple of (name, value) pairs sorted by name, with no empty
  values (an empty value means "label absent"), and ``__name__`` for the metric name;
- a stale marker is the NaN with bit pattern ``STALE_NAN_BITS``; it must be
  compared by bits, never with ``==`` or ``math.isnan`` alone.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

import numpy as np
import numpy.typing as npt

__all__ = [
    "STALE_NAN",
    "Alert",
    "NotifyFunc",
    "STALE_NAN_BITS",
    "Appendable",
    "Labels",
    "MatchType",
    "Matcher",
    "Queryable",
    "SeriesData",
    "is_stale_nan",
    "labels_from",
    "labels_get",
    "metric_name",
]

Labels = tuple[tuple[str, str], ...]

STALE_NAN_BITS = 0x7FF0000000000002
STALE_NAN: float = struct.unpack("<d", struct.pack("<Q", STALE_NAN_BITS))[0]


def is_stale_nan(value: float) -> bool:
    """True for Prometheus' staleness marker (and no other NaN)."""
    return bool(struct.unpack("<Q", struct.pack("<d", value))[0] == STALE_NAN_BITS)


def labels_from(mapping: Mapping[str, str] | Iterable[tuple[str, str]]) -> Labels:
    """Build a canonical label set: sorted by name, empty values dropped."""
    items = mapping.items() if isinstance(mapping, Mapping) else mapping
    return tuple(sorted((k, v) for k, v in items if v != ""))


def labels_get(labels: Labels, name: str) -> str:
    """The value of ``name`` in ``labels``, or "" when absent."""
    for k, v in labels:
        if k == name:
            return v
    return ""


def metric_name(labels: Labels) -> str:
    return labels_get(labels, "__name__")


class MatchType(Enum):
    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


@dataclass(frozen=True, slots=True)
class Matcher:
    """A label matcher; regexes are fully anchored, as in Prometheus."""

    name: str
    type: MatchType
    value: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, name: str, type: MatchType | str, value: str) -> Matcher:
        mt = type if isinstance(type, MatchType) else MatchType(type)
        regex = None
        if mt in (MatchType.REGEX, MatchType.NOT_REGEX):
            regex = re.compile(f"(?:{value})", re.DOTALL)
        return cls(name, mt, value, regex)

    def matches(self, value: str) -> bool:
        """Whether a label value ("" for an absent label) satisfies this matcher."""
        if self.type is MatchType.EQUAL:
            return value == self.value
        if self.type is MatchType.NOT_EQUAL:
            return value != self.value
        assert self._regex is not None
        # fullmatch, not "$": "$" also matches before a trailing newline.
        hit = self._regex.fullmatch(value) is not None
        return hit if self.type is MatchType.REGEX else not hit

    def matches_labels(self, labels: Labels) -> bool:
        return self.matches(labels_get(labels, self.name))


@dataclass(frozen=True, slots=True)
class SeriesData:
    """One series' samples in a time range, oldest first (timestamps strictly increasing)."""

    labels: Labels
    timestamps: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]


class Appendable(Protocol):
    """Where scraped or imported samples go."""

    def append(self, labels: Labels, timestamp_ms: int, value: float) -> bool:
        """Add one sample; False when rejected (out of order or duplicate timestamp)."""
        ...

    def commit(self) -> None:
        """Make everything appended so far durable and visible to queries."""
        ...


class Queryable(Protocol):
    """What PromQL reads from."""

    def select(
        self, matchers: Sequence[Matcher], mint_ms: int, maxt_ms: int
    ) -> Iterator[SeriesData]:
        """Series matching every matcher, with their samples in [mint_ms, maxt_ms].

        Series without samples in the range may be omitted.
        """
        ...

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        """Sorted label names of the series matching ``matchers`` (all series if empty)."""
        ...

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        """Sorted distinct values of label ``name`` among the matching series."""
        ...


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert as the rules engine hands it to the notifier.

    The same fields as Prometheus' notifier.Alert (and Alertmanager's postable alert):
    a firing alert has ``ends_at_ms`` in the future (Prometheus sends now + 4 ×
    the resend delay, so a notifier that stops hearing about it resolves it); a
    resolved one has ``ends_at_ms`` at or before now. Timestamps are int
    milliseconds since the epoch, like everything in this module.
    """

    labels: Labels  # canonical: sorted, includes "alertname"
    annotations: tuple[tuple[str, str], ...]
    starts_at_ms: int
    ends_at_ms: int
    generator_url: str = ""

    def resolved_at(self, now_ms: int) -> bool:
        return self.ends_at_ms <= now_ms


# How the rules engine reaches the notifier (wired in server.py): each call carries
# every alert that is due to be (re)sent at this evaluation.
NotifyFunc = Callable[[Sequence[Alert]], None]
