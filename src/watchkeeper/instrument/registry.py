"""The registry: every metric family of a process, plus collectors computed at scrape time.

Families (``Counter``/``Gauge``/``Histogram``) are created with ``get-or-create``
semantics, so instrumenting twice or importing a module twice reuses the same
family; asking for an existing name with another type or other labels is a
programming error and raises (at set-up time, never on the request path).

Collectors are plain callables returning ``MetricFamily`` snapshots: the process,
GC, system and event-loop collectors, and the bridge that brings in everything a
user registered with prometheus_client's default registry.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from watchkeeper.instrument.metrics import (
    DEFAULT_CARDINALITY_LIMIT,
    UPDATE_LOCK,
    Counter,
    Family,
    Gauge,
    Histogram,
)

__all__ = ["REGISTRY", "Collector", "MetricFamily", "Registry", "Sample"]


@dataclass(slots=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


@dataclass(slots=True)
class MetricFamily:
    """A family in generic form, as collectors produce it and multiprocess files store it.

    ``multiprocess_mode`` says how worker processes combine: ``sum`` (counters and
    histograms; a dead worker's totals are kept), ``livesum``/``livemax`` (gauges of
    live workers), ``liveall`` (one series per live worker, labelled ``pid``).
    """

    name: str
    type: str
    documentation: str
    samples: list[Sample] = field(default_factory=list)
    multiprocess_mode: str = "sum"


Collector = Callable[[], Iterable[MetricFamily]]
F = TypeVar("F", bound=Family[Any])


class Registry:
    """Holds families and collectors; renders through ``exposition``."""

    def __init__(self, *, cardinality_limit: int = DEFAULT_CARDINALITY_LIMIT) -> None:
        self.cardinality_limit = cardinality_limit
        self._families: dict[str, Family[Any]] = {}
        self._collectors: dict[str, Collector] = {}
        self._pre_collect: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        # Per-registry singletons of other modules (e.g. the HTTP metric set).
        self.extensions: dict[str, object] = {}
        self.dropped = self.counter(
            "watchkeeper_dropped_label_sets",
            "Observations folded into the overflow series because a metric hit its "
            "cardinality limit.",
            ["metric"],
        )
        self.internal_errors = self.counter(
            "watchkeeper_internal_errors",
            "Faults inside watchkeeper that were contained (the host app was not affected).",
            ["component"],
        )

    # -- families -------------------------------------------------------------------
    def _on_overflow(self, metric: str) -> None:
        self.dropped.labels(metric).inc()

    def _get_or_create(self, cls: type[F], name: str, labelnames: Sequence[str], **kw: Any) -> F:
        with self._lock:
            existing = self._families.get(name)
            if existing is not None:
                if type(existing) is not cls or existing.labelnames != tuple(labelnames):
                    raise ValueError(
                        f"metric {name!r} is already registered as a {existing.type} with labels "
                        f"{list(existing.labelnames)}; use another name or the same definition"
                    )
                bounds = getattr(existing, "bounds", None)
                if bounds is not None and "buckets" in kw:
                    wanted = tuple(float(b) for b in kw["buckets"] if b != float("inf"))
                    if bounds != wanted:
                        raise ValueError(
                            f"histogram {name!r} is already registered with buckets "
                            f"{list(bounds)}, not {list(wanted)}"
                        )
                return existing
            kw.setdefault("limit", self.cardinality_limit)
            family = cls(name, kw.pop("documentation"), labelnames, **kw)
            self._families[name] = family
            return family

    def counter(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str] = (),
        *,
        limit: int | None = None,
    ) -> Counter:
        """A counter named ``name`` (samples get the ``_total`` suffix)."""
        if name.endswith("_total"):
            name = name[: -len("_total")]
        return self._get_or_create(
            Counter,
            name,
            labelnames,
            documentation=documentation,
            on_overflow=self._overflow_hook(name),
            **_limit(limit),
        )

    def gauge(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str] = (),
        *,
        limit: int | None = None,
        multiprocess_mode: str = "livesum",
    ) -> Gauge:
        return self._get_or_create(
            Gauge,
            name,
            labelnames,
            documentation=documentation,
            multiprocess_mode=multiprocess_mode,
            on_overflow=self._overflow_hook(name),
            **_limit(limit),
        )

    def histogram(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str] = (),
        *,
        buckets: Sequence[float],
        limit: int | None = None,
    ) -> Histogram:
        return self._get_or_create(
            Histogram,
            name,
            labelnames,
            documentation=documentation,
            buckets=buckets,
            on_overflow=self._overflow_hook(name),
            **_limit(limit),
        )

    def _overflow_hook(self, name: str) -> Callable[[str], None] | None:
        # The dropped-label-sets counter must not count its own overflow (recursion).
        return None if name == "watchkeeper_dropped_label_sets" else self._on_overflow

    def families(self) -> list[Family[Any]]:
        return list(self._families.values())

    def get(self, name: str) -> Family[Any] | None:
        return self._families.get(name)

    # -- collectors -----------------------------------------------------------------
    def add_pre_collect(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` before every render or snapshot (e.g. to fold deferred observations)."""
        self._pre_collect.append(hook)

    def prepare(self) -> None:
        """Run the pre-collect hooks; a failing hook is counted, never raised."""
        for hook in self._pre_collect:
            try:
                hook()
            except Exception:
                self.internal_errors.labels("pre_collect").inc()

    def register_collector(self, name: str, collector: Collector) -> None:
        """Add (or replace) a named collector called at every scrape."""
        self._collectors[name] = collector

    def unregister_collector(self, name: str) -> None:
        self._collectors.pop(name, None)

    def collect_extra(self) -> list[MetricFamily]:
        """Run the collectors; a failing collector is counted and skipped, never raised."""
        out: list[MetricFamily] = []
        seen = set(self._families)
        for cname, collector in list(self._collectors.items()):
            try:
                for fam in collector():
                    if fam.name not in seen:  # our own families win over bridged ones
                        seen.add(fam.name)
                        out.append(fam)
            except Exception:
                self.internal_errors.labels(f"collector:{cname}").inc()
        return out

    def snapshot(self) -> list[MetricFamily]:
        """Every family in generic form (for multiprocess files and for tests)."""
        self.prepare()
        return [family_snapshot(f) for f in self.families()] + self.collect_extra()

    def reset_values(self) -> None:
        """Zero counters and histograms: a forked worker must not inherit its parent's counts.

        Gauges are kept: they hold state (build info, limits), not events.
        """
        # Zeroed in place, not replaced: the middleware and @measured cache children.
        with UPDATE_LOCK:
            for family in self.families():
                if isinstance(family, Counter):
                    for _, counter in family.children():
                        counter.value = 0
                elif isinstance(family, Histogram):
                    for _, hist in family.children():
                        hist.counts = [0] * len(hist.counts)
                        hist.sum = 0.0


def _limit(limit: int | None) -> dict[str, int]:
    return {} if limit is None else {"limit": limit}


def family_snapshot(family: Family[Any]) -> MetricFamily:
    """A family's current values in generic form."""
    out = MetricFamily(
        family.name, family.type, family.documentation, multiprocess_mode=family.multiprocess_mode
    )
    names = family.labelnames
    for values, child in family.children():
        labels = {n: v for n, v in zip(names, values, strict=True) if v}
        if child is getattr(family, "_overflow", None):
            labels["otel_metric_overflow"] = "true"
        if isinstance(family, Counter):
            out.samples.append(Sample(family.name + "_total", labels, child.value))
        elif isinstance(family, Gauge):
            out.samples.append(Sample(family.name, labels, child.value))
        elif isinstance(family, Histogram):
            cumulative = child.cumulative()
            bounds = [*family.bounds, float("inf")]
            for bound, count in zip(bounds, cumulative, strict=True):
                le = "+Inf" if bound == float("inf") else repr(bound)
                out.samples.append(Sample(family.name + "_bucket", {**labels, "le": le}, count))
            out.samples.append(Sample(family.name + "_count", labels, cumulative[-1]))
            out.samples.append(Sample(family.name + "_sum", labels, child.sum))
    return out


REGISTRY = Registry()
"""The process-wide default registry that ``instrument()`` and the decorators use."""
