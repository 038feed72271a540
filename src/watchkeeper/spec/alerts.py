"""The ``alerts`` section: overrides of the built-in alerts, and custom alerts."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from watchkeeper.spec.base import SpecModel
from watchkeeper.spec.catalog import Severity
from watchkeeper.spec.types import DurationField, LabelName, Number, PositiveDurationField

__all__ = ["AlertOverride", "AlertsSection", "CustomAlert", "CustomAlertTest", "TestSeries"]

CamelCase = Annotated[str, Field(pattern=r"^[A-Z][A-Za-z0-9]*$")]


class AlertOverride(SpecModel):
    """Change a built-in alert's threshold, hold (``for``) or severity, or turn it off."""

    enabled: bool = True
    threshold: Number | None = None
    hold: DurationField | None = Field(default=None, alias="for")
    severity: Severity | None = None
    # Only for the alerts that use them: rate window, baseline offset, prediction horizon.
    window: PositiveDurationField | None = None
    offset: PositiveDurationField | None = None
    horizon: PositiveDurationField | None = None


class TestSeries(SpecModel):
    """One promtool input series: ``series: 'metric{a="b"}'`` and ``values: '0+1x60'``."""

    series: str
    values: str


class CustomAlertTest(SpecModel):
    """Input series under which a custom alert must fire (and optionally must not)."""

    firing: tuple[TestSeries, ...]
    quiet: tuple[TestSeries, ...] = ()
    at: DurationField | None = None


class CustomAlert(SpecModel):
    """A hand-written alert that still gets the labels, links, runbook and routing."""

    name: CamelCase
    expr: str
    hold: DurationField | None = Field(default=None, alias="for")
    severity: Severity = "warning"
    summary: str
    description: str = ""
    runbook: str | None = None
    labels: dict[LabelName, str] = Field(default_factory=dict)
    test: CustomAlertTest | None = None


class AlertsSection(SpecModel):
    """Built-in alerts by name (each optional), plus ``custom`` alerts."""

    HighErrorRate: AlertOverride | None = None
    HighLatencyP99: AlertOverride | None = None
    ServiceDown: AlertOverride | None = None
    HighCPU: AlertOverride | None = None
    HighMemory: AlertOverride | None = None
    DiskSpaceLow: AlertOverride | None = None
    HealthCheckFailing: AlertOverride | None = None
    DatabaseDown: AlertOverride | None = None
    RedisDown: AlertOverride | None = None
    ProbeFailing: AlertOverride | None = None
    CacheHitRateLow: AlertOverride | None = None
    QueueBacklog: AlertOverride | None = None
    QuotaLow: AlertOverride | None = None
    QuotaExhaustionPredicted: AlertOverride | None = None
    LLMCostOverBudget: AlertOverride | None = None
    TrafficSpike: AlertOverride | None = None
    TrafficDrop: AlertOverride | None = None
    custom: tuple[CustomAlert, ...] = ()

    def override(self, name: str) -> AlertOverride:
        value = getattr(self, name, None)
        return value if isinstance(value, AlertOverride) else AlertOverride()
