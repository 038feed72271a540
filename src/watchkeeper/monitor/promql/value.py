"""PromQL result values, shaped like Prometheus' (promql/value.go).

The HTTP API renders these as Prometheus does: ``resultType`` of ``scalar``,
``string``, ``vector`` or ``matrix``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from watchkeeper.monitor.model import Labels

__all__ = ["Matrix", "Point", "Sample", "Scalar", "Series", "String", "Value", "Vector"]

Point = tuple[int, float]  # (timestamp_ms, value)


@dataclass(slots=True)
class Scalar:
    timestamp_ms: int
    value: float


@dataclass(slots=True)
class String:
    timestamp_ms: int
    value: str


@dataclass(slots=True)
class Sample:
    labels: Labels
    timestamp_ms: int
    value: float


@dataclass(slots=True)
class Vector:
    samples: list[Sample] = field(default_factory=list)


@dataclass(slots=True)
class Series:
    labels: Labels
    points: list[Point] = field(default_factory=list)


@dataclass(slots=True)
class Matrix:
    series: list[Series] = field(default_factory=list)


Value = Scalar | String | Vector | Matrix
