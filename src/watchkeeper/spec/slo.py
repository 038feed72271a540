"""Service level objectives: the SLI kinds and the multi-window burn-rate tiers.

Burn-rate factors are derived, not copied: a tier says how much of the period's error
budget may burn within its long window (2% in 1h for the page tier), and the factor is
``budget fraction x period / long window``, computed exactly with fractions. For the
default 30d period that gives the SRE workbook's 14.4, 6, 3 and 1.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from watchkeeper.spec.base import SpecModel
from watchkeeper.spec.catalog import Severity
from watchkeeper.spec.durations import Duration
from watchkeeper.spec.types import DurationField, Number, Percent

__all__ = [
    "DEFAULT_BURN_WINDOWS",
    "SLI",
    "SLO",
    "AvailabilitySLI",
    "BurnWindow",
    "LatencySLI",
    "ProbeSLI",
    "RatioSLI",
]


class AvailabilitySLI(SpecModel):
    """Share of HTTP requests answered without a 5xx (429 optionally counted as bad)."""

    kind: Literal["availability"]
    count_429_as_error: bool = False


class LatencySLI(SpecModel):
    """Share of HTTP requests faster than ``threshold`` seconds (a histogram bucket bound)."""

    kind: Literal["latency"]
    threshold: Number


class RatioSLI(SpecModel):
    """Any counter ratio: ``bad``/``total`` or ``good``/``total`` metric selectors."""

    kind: Literal["ratio"]
    total: str
    bad: str | None = None
    good: str | None = None

    @model_validator(mode="after")
    def _one_of_good_bad(self) -> RatioSLI:
        if (self.bad is None) == (self.good is None):
            raise ValueError(
                "needs exactly one of `bad` or `good` next to `total`, "
                f"got bad={self.bad!r} good={self.good!r}"
            )
        return self


class ProbeSLI(SpecModel):
    """Share of successful blackbox probes of an ``http`` dependency."""

    kind: Literal["probe"]
    dependency: str


SLI = Annotated[AvailabilitySLI | LatencySLI | RatioSLI | ProbeSLI, Field(discriminator="kind")]


class BurnWindow(SpecModel):
    """One multi-window burn-rate alert: long and short window, and its factor.

    Give either ``budget_percent`` (share of the period's budget spent within ``long``;
    the factor follows from the period) or ``factor`` directly.
    """

    tier: Literal["page", "ticket"]
    long: DurationField
    short: DurationField
    budget_percent: Number | None = None
    factor: Number | None = None
    severity: Severity | None = None
    hold: DurationField | None = Field(default=None, alias="for")

    @model_validator(mode="after")
    def _check(self) -> BurnWindow:
        if (self.budget_percent is None) == (self.factor is None):
            raise ValueError("give exactly one of `budget_percent` or `factor`")
        if self.short >= self.long:
            raise ValueError(
                f"the short window ({self.short}) must be shorter than the long one "
                f"({self.long}); the workbook uses 1/12 of it"
            )
        return self

    def exact_factor(self, period: Duration) -> Fraction:
        """The burn-rate factor as an exact fraction."""
        if self.factor is not None:
            return Fraction(self.factor)
        assert self.budget_percent is not None
        return Fraction(self.budget_percent) / 100 * period.seconds / self.long.seconds

    @property
    def effective_severity(self) -> Severity:
        if self.severity is not None:
            return self.severity
        return "critical" if self.tier == "page" else "warning"

    @property
    def effective_hold(self) -> Duration:
        if self.hold is not None:
            return self.hold
        # A short hold rides out one bad scrape; tickets can wait longer.
        return Duration(120) if self.tier == "page" else Duration(900)


def _window(tier: str, long: int, short: int, percent: str) -> BurnWindow:
    return BurnWindow.model_validate(
        {
            "tier": tier,
            "long": Duration(long),
            "short": Duration(short),
            "budget_percent": Decimal(percent),
        }
    )


# SRE workbook, table 5-8: 2% in 1h and 5% in 6h page; 10% in 1d and in 3d ticket.
DEFAULT_BURN_WINDOWS: tuple[BurnWindow, ...] = (
    _window("page", 3600, 300, "2"),
    _window("page", 6 * 3600, 1800, "5"),
    _window("ticket", 86400, 7200, "10"),
    _window("ticket", 3 * 86400, 6 * 3600, "10"),
)


class SLO(SpecModel):
    """One objective: ``objective`` percent of events are good over ``window``."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$")]
    objective: Percent
    sli: SLI
    window: DurationField = Duration(30 * 86400)
    description: str = ""
    burn_windows: tuple[BurnWindow, ...] = DEFAULT_BURN_WINDOWS
    # Low-traffic guard: no burn alert unless the long window saw this many events.
    min_events: Annotated[int, Field(ge=0)] = 0

    @field_validator("objective")
    @classmethod
    def _objective_range(cls, value: Decimal) -> Decimal:
        if not Decimal(0) < value < Decimal(100):
            raise ValueError(
                f"must be between 0 and 100 (exclusive), got {value}; "
                "write it as a percentage such as 99.9"
            )
        return value

    @property
    def budget(self) -> Fraction:
        """Allowed error ratio, e.g. 1/1000 for 99.9."""
        return 1 - Fraction(self.objective) / 100
