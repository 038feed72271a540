"""The rule model every generator reads: recording rules, alert rules, and for each
alert the scenario its promtool tests are generated from.

Keeping the scenario next to the rule means an alert cannot be added without the
series that make it fire and the series that keep it quiet.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from watchkeeper.generate.artifact import Artifact, yaml_document
from watchkeeper.spec.durations import Duration
from watchkeeper.spec.model import ServiceSpec

__all__ = [
    "AlertRule",
    "Expected",
    "RecordingRule",
    "RuleGroup",
    "Scenario",
    "Series",
    "rules_artifact",
    "rules_data",
]


@dataclass(frozen=True)
class Series:
    """A promtool input series in expanding notation."""

    series: str
    values: str


@dataclass(frozen=True)
class Expected:
    """One alert expected firing: its labels beyond the rule's own, and its value."""

    labels: dict[str, str] = field(default_factory=dict)
    value: float = 0.0


@dataclass(frozen=True)
class Scenario:
    """Input series and, at each check time (seconds), every alert of the rule's name
    expected firing (several rules may share a name, e.g. the burn-rate windows)."""

    name: str
    series: tuple[Series, ...]
    checks: tuple[tuple[int, tuple[Expected, ...]], ...]
    interval: int = 60
    # Checks of other alert names on the same data (alertname, time, expected).
    other_checks: tuple[tuple[str, int, tuple[Expected, ...]], ...] = ()


@dataclass(frozen=True)
class RecordingRule:
    record: str
    expr: str
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AlertRule:
    name: str
    expr: str
    hold: Duration
    labels: dict[str, str]
    annotations: dict[str, str]
    scenarios: tuple[Scenario, ...] = ()
    summary_query: str = ""
    count_test: bool = False  # custom alerts: test by counting ALERTS, labels unknown


@dataclass(frozen=True)
class RuleGroup:
    name: str
    rules: tuple[RecordingRule | AlertRule, ...]
    interval: Duration | None = None

    @property
    def alerts(self) -> list[AlertRule]:
        return [r for r in self.rules if isinstance(r, AlertRule)]


def rules_data(groups: list[RuleGroup]) -> dict[str, object]:
    out = []
    for group in groups:
        rules: list[dict[str, object]] = []
        for rule in group.rules:
            if isinstance(rule, RecordingRule):
                item: dict[str, object] = {"record": rule.record, "expr": rule.expr}
                if rule.labels:
                    item["labels"] = dict(rule.labels)
            else:
                item = {"alert": rule.name, "expr": rule.expr}
                if rule.hold.seconds:
                    item["for"] = str(rule.hold)
                item["labels"] = dict(sorted(rule.labels.items()))
                item["annotations"] = dict(sorted(rule.annotations.items()))
            rules.append(item)
        entry: dict[str, object] = {"name": group.name}
        if group.interval is not None:
            entry["interval"] = str(group.interval)
        entry["rules"] = rules
        out.append(entry)
    return {"groups": out}


def rules_artifact(spec: ServiceSpec, source: str, groups: list[RuleGroup]) -> Artifact:
    return Artifact(
        f"prometheus/rules/{spec.service}.rules.yml",
        yaml_document(source, rules_data(groups)),
    )
