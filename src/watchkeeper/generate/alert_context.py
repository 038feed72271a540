"""The context every built-in alert builder receives, and helpers they share."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from watchkeeper.generate.links import dashboard_url, runbook_url
from watchkeeper.generate.promql import num
from watchkeeper.generate.rules import AlertRule, Scenario, Series
from watchkeeper.generate.scenarios import threshold_scenarios
from watchkeeper.spec.catalog import BUILTIN_ALERTS
from watchkeeper.spec.durations import Duration, parse_duration
from watchkeeper.spec.inventory import AlertInfo
from watchkeeper.spec.model import ServiceSpec

__all__ = ["AlertContext", "Made", "exporter_job", "pct"]

Made = tuple[list[Series], dict[str, str], float]


def exporter_job(spec: ServiceSpec, dependency: str) -> str:
    """Scrape job of a dependency's exporter (or blackbox probe)."""
    return f"{spec.service}-{dependency}"


class AlertContext:
    """What one built-in alert rule is built from: the spec, its inventory entry, and
    the threshold/hold/window after the spec's overrides."""

    def __init__(self, spec: ServiceSpec, info: AlertInfo) -> None:
        self.spec = spec
        self.info = info
        builtin = BUILTIN_ALERTS[info.name]
        override = spec.alerts.override(info.name)
        self.threshold: Decimal = (
            override.threshold
            if override.threshold is not None
            else (builtin.threshold or Decimal(0))
        )
        self.hold = override.hold if override.hold is not None else _dur(builtin.hold)
        self.window = override.window or Duration(300)
        self.offset = override.offset or Duration(86400)
        self.job = spec.service
        self.instance = spec.parsed_targets[0].address

    def rule(
        self,
        expr: str,
        summary: str,
        description: str,
        query: str,
        scenarios: tuple[Scenario, ...],
        board: str = "overview",
    ) -> AlertRule:
        annotations = {
            "summary": summary,
            "description": description,
            "runbook_url": runbook_url(self.spec, self.info.name),
            "dashboard_url": dashboard_url(self.spec, board),
        }
        return AlertRule(
            self.info.name, expr, self.hold, dict(self.info.labels), annotations, scenarios, query
        )

    def scenarios(
        self, make: Callable[[Decimal, int], Made], above: bool, settle: int, earliest: int = 0
    ) -> tuple[Scenario, ...]:
        return threshold_scenarios(make, self.threshold, above, self.hold.seconds, settle, earliest)


def _dur(text: str) -> Duration:
    return parse_duration(text)


def pct(value: Decimal) -> str:
    return num(value * 100) + "%"
