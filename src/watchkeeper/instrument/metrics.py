"""Metric primitives built for the request hot path: Counter, Gauge, Histogram.

Why not prometheus_client's classes: one ``labels(...).observe()`` there costs a
few microseconds (a lock per call, label validation, a per-bucket loop), and the
whole per-request budget of the middleware is 5 µs. Here a child is a plain object
looked up by a tuple of label values, an observation is a ``bisect`` and two
additions, and each child caches its rendered exposition prefixes so a scrape is
mostly string joins (see ``exposition.py``).

Every family has a cardinality budget: once it holds ``limit`` label sets, new
label sets fold into one overflow child labelled ``otel_metric_overflow="true"``
(what OpenTelemetry SDKs do) and the registry's ``on_overflow`` hook counts them.
"""

from __future__ import annotations

import re
import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Generic, TypeVar

__all__ = [
    "DEFAULT_CARDINALITY_LIMIT",
    "EXEMPLAR_MAX_CHARS",
    "OVERFLOW_LABEL",
    "UPDATE_LOCK",
    "Counter",
    "CounterChild",
    "Family",
    "Gauge",
    "GaugeChild",
    "Histogram",
    "HistogramChild",
    "escape_label_value",
    "format_value",
    "render_exemplar_labels",
]

DEFAULT_CARDINALITY_LIMIT = 2000
OVERFLOW_LABEL = "otel_metric_overflow"
EXEMPLAR_MAX_CHARS = 128  # OpenMetrics: the exemplar's label names and values together

# One lock for every update: ``x += 1`` is not atomic across threads (threaded WSGI
# servers would lose increments), an uncontended acquire costs ~50 ns, and the HTTP
# middleware takes it once per request for all of its updates together.
# Reentrant: folding pending observations creates children, and an overflowing child
# counts itself in watchkeeper_dropped_label_sets_total under the same lock.
UPDATE_LOCK = threading.RLock()

_NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_RESERVED_LABELS = frozenset({"le", "quantile", OVERFLOW_LABEL})


def escape_label_value(value: str) -> str:
    """Escape a label value for the text formats (backslash, quote, newline)."""
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return value


def format_value(value: float) -> str:
    """Format a sample value the way Go's Prometheus clients do (``+Inf``, ``NaN``, ...)."""
    if value != value:
        return "NaN"
    if value == float("inf"):
        return "+Inf"
    if value == float("-inf"):
        return "-Inf"
    if isinstance(value, int):
        return str(value)
    return repr(value)


def _label_pairs(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    """``a="x",b="y"`` (+ extra): the inside of a label block; empty values are omitted."""
    parts = [f'{n}="{escape_label_value(v)}"' for n, v in zip(names, values, strict=True) if v]
    if extra:
        parts.append(extra)
    return ",".join(parts)


def _braced(pairs: str) -> str:
    return "{" + pairs + "}" if pairs else ""


def _check_name(name: str, labelnames: Sequence[str]) -> None:
    if not _NAME_RE.match(name):
        raise ValueError(f"invalid metric name {name!r}: use [a-zA-Z_:][a-zA-Z0-9_:]*")
    for label in labelnames:
        if not _LABEL_RE.match(label) or label.startswith("__"):
            raise ValueError(
                f"metric {name!r}: invalid label name {label!r}: use [a-zA-Z_][a-zA-Z0-9_]* "
                "without a leading double underscore"
            )
        if label in _RESERVED_LABELS:
            raise ValueError(f"metric {name!r}: label name {label!r} is reserved")


C = TypeVar("C")


class Family(Generic[C]):
    """A metric family: name, help, label names and its children by label values."""

    type: str = "untyped"
    default_multiprocess_mode = "sum"

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str] = (),
        *,
        limit: int = DEFAULT_CARDINALITY_LIMIT,
        on_overflow: Callable[[str], None] | None = None,
        multiprocess_mode: str | None = None,
    ) -> None:
        _check_name(name, labelnames)
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self.limit = limit
        self.multiprocess_mode = multiprocess_mode or self.default_multiprocess_mode
        self._on_overflow = on_overflow
        self._children: dict[tuple[str, ...], C] = {}
        self._overflow: C | None = None
        self._lock = threading.Lock()
        if not self.labelnames:
            self._children[()] = self._make_child(())

    # -- children -----------------------------------------------------------------
    def labels(self, *values: str) -> C:
        """The child for these label values (positional, in ``labelnames`` order)."""
        child = self._children.get(values)
        if child is not None:
            return child
        return self._add_child(values)

    def _add_child(self, values: tuple[str, ...]) -> C:
        if len(values) != len(self.labelnames):
            raise ValueError(
                f"metric {self.name!r} takes labels {self.labelnames}, got {len(values)} values"
            )
        with self._lock:
            child = self._children.get(values)
            if child is not None:
                return child
            if len(self._children) >= self.limit:
                return self._overflow_child()
            values = tuple(str(v) for v in values)
            child = self._make_child(values)
            self._children[values] = child
            return child

    def _overflow_child(self) -> C:
        if self._on_overflow is not None:
            self._on_overflow(self.name)
        if self._overflow is None:
            self._overflow = self._make_child(
                ("",) * len(self.labelnames), overflow=f'{OVERFLOW_LABEL}="true"'
            )
        return self._overflow

    def children(self) -> Iterator[tuple[tuple[str, ...], C]]:
        """Every child (the overflow child last, with empty label values)."""
        yield from list(self._children.items())
        if self._overflow is not None:
            yield ("",) * len(self.labelnames), self._overflow

    def series_count(self) -> int:
        return len(self._children) + (self._overflow is not None)

    def clear(self) -> None:
        """Forget every child (after a fork, or in tests)."""
        with self._lock:
            self._children.clear()
            self._overflow = None
            if not self.labelnames:
                self._children[()] = self._make_child(())

    def _make_child(self, values: tuple[str, ...], overflow: str = "") -> C:
        raise NotImplementedError


class CounterChild:
    __slots__ = ("line", "value")

    def __init__(self, line: str) -> None:
        self.line = line  # 'name_total{labels} '
        self.value: float = 0

    def inc(self, amount: float = 1) -> None:
        if amount < 0:
            raise ValueError("counters only go up: inc() takes a non-negative amount")
        with UPDATE_LOCK:
            self.value += amount


class Counter(Family[CounterChild]):
    """A monotonic counter. ``name`` is given without ``_total``; samples carry it."""

    type = "counter"

    def _make_child(self, values: tuple[str, ...], overflow: str = "") -> CounterChild:
        pairs = _label_pairs(self.labelnames, values, overflow)
        return CounterChild(f"{self.name}_total{_braced(pairs)} ")

    def inc(self, amount: float = 1) -> None:
        self.labels().inc(amount)


class GaugeChild:
    __slots__ = ("line", "value")

    def __init__(self, line: str) -> None:
        self.line = line
        self.value: float = 0

    def set(self, value: float) -> None:
        self.value = value

    def inc(self, amount: float = 1) -> None:
        with UPDATE_LOCK:
            self.value += amount

    def dec(self, amount: float = 1) -> None:
        with UPDATE_LOCK:
            self.value -= amount


class Gauge(Family[GaugeChild]):
    """A value that goes up and down.

    ``multiprocess_mode`` says how workers combine: ``livesum`` (default: the sum over
    live workers), ``liveall`` (one series per worker, labelled ``pid``), ``livemax``.
    """

    type = "gauge"
    default_multiprocess_mode = "livesum"

    def _make_child(self, values: tuple[str, ...], overflow: str = "") -> GaugeChild:
        pairs = _label_pairs(self.labelnames, values, overflow)
        return GaugeChild(f"{self.name}{_braced(pairs)} ")

    def set(self, value: float) -> None:
        self.labels().set(value)


class HistogramChild:
    __slots__ = ("bounds", "count_line", "counts", "exemplars", "lines", "sum", "sum_line")

    def __init__(self, bounds: tuple[float, ...], pairs: str, name: str) -> None:
        self.bounds = bounds
        # counts[i] holds observations in (bounds[i-1], bounds[i]]; the last slot is +Inf.
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0
        # The latest exemplar per bucket (what prometheus_client keeps), as
        # (rendered label pairs, value, unix time); None until the first one, so a
        # histogram that never sees a trace pays one slot.
        self.exemplars: list[tuple[str, float, float] | None] | None = None
        sep = "," if pairs else ""
        les = [format_value(float(b)) for b in bounds] + ["+Inf"]
        self.lines = tuple(f'{name}_bucket{{{pairs}{sep}le="{le}"}} ' for le in les)
        self.sum_line = f"{name}_sum{_braced(pairs)} "
        self.count_line = f"{name}_count{_braced(pairs)} "

    def observe(self, value: float, exemplar: Mapping[str, str] | None = None) -> None:
        """Count ``value``; ``exemplar`` (e.g. ``{"trace_id": ...}``) is kept for its
        bucket and shown in the OpenMetrics exposition."""
        labels = render_exemplar_labels(exemplar) if exemplar is not None else None
        with UPDATE_LOCK:
            index = bisect_left(self.bounds, value)
            self.counts[index] += 1
            self.sum += value
            if labels is not None:
                self.set_exemplar(index, labels, value, time.time())

    def set_exemplar(self, index: int, labels: str, value: float, timestamp: float) -> None:
        """Keep the exemplar of bucket ``index`` (call under UPDATE_LOCK)."""
        exemplars = self.exemplars
        if exemplars is None:
            exemplars = self.exemplars = [None] * len(self.counts)
        exemplars[index] = (labels, value, timestamp)

    def cumulative(self) -> list[int]:
        total = 0
        out = []
        for c in self.counts:
            total += c
            out.append(total)
        return out


def render_exemplar_labels(labels: Mapping[str, str]) -> str:
    """``trace_id="…",span_id="…"``, checked against OpenMetrics' limit (128 characters
    of names and values together)."""
    if sum(len(k) + len(v) for k, v in labels.items()) > EXEMPLAR_MAX_CHARS:
        raise ValueError(f"exemplar labels longer than {EXEMPLAR_MAX_CHARS} characters: {labels}")
    for key in labels:
        if not _LABEL_RE.match(key):
            raise ValueError(f"invalid exemplar label name {key!r}: use [a-zA-Z_][a-zA-Z0-9_]*")
    return ",".join(f'{k}="{escape_label_value(v)}"' for k, v in labels.items())


class Histogram(Family[HistogramChild]):
    """A histogram with fixed, sorted bucket upper bounds (``+Inf`` is implicit)."""

    type = "histogram"

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str] = (),
        *,
        buckets: Sequence[float],
        limit: int = DEFAULT_CARDINALITY_LIMIT,
        on_overflow: Callable[[str], None] | None = None,
    ) -> None:
        bounds = tuple(float(b) for b in buckets if b != float("inf"))
        if not bounds or list(bounds) != sorted(set(bounds)):
            raise ValueError(
                f"histogram {name!r}: buckets must be sorted and unique, got {buckets}"
            )
        self.bounds = bounds
        super().__init__(name, documentation, labelnames, limit=limit, on_overflow=on_overflow)

    def _make_child(self, values: tuple[str, ...], overflow: str = "") -> HistogramChild:
        pairs = _label_pairs(self.labelnames, values, overflow)
        return HistogramChild(self.bounds, pairs, self.name)

    def observe(self, value: float, exemplar: Mapping[str, str] | None = None) -> None:
        self.labels().observe(value, exemplar)
