"""Which alerts a spec produces and the labels each is guaranteed to carry.

Both the inhibition check and the generators read this list, so the labels an
inhibition relies on are exactly the labels the rules get.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from watchkeeper.spec.catalog import BUILTIN_ALERTS, SLO_ALERT, Severity
from watchkeeper.spec.model import ServiceSpec

__all__ = ["AlertInfo", "alert_inventory", "static_label_names", "static_labels"]


@dataclass(frozen=True)
class AlertInfo:
    """One alert rule: its name, static labels and the labels its expression keeps.

    ``subject`` is what the rule is about when one alert name yields several rules
    (the dependency, quota, queue or SLO window), else empty.
    """

    name: str
    labels: dict[str, str]
    carried: frozenset[str] = frozenset()
    subject: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def severity(self) -> str:
        return self.labels["severity"]

    @property
    def label_names(self) -> frozenset[str]:
        return frozenset(self.labels) | self.carried | {"alertname"}

    def matches(self, matchers: dict[str, str]) -> bool:
        """Could this alert match equality matchers? Unknown (carried) labels may."""
        for key, value in matchers.items():
            if key == "alertname":
                if value != self.name:
                    return False
            elif (key in self.labels and self.labels[key] != value) or (
                key not in self.labels and key not in self.carried
            ):
                return False
        return True


def static_labels(spec: ServiceSpec, severity: Severity | str) -> dict[str, str]:
    """Labels every alert of the spec carries: user labels, team, service, severity."""
    labels = dict(spec.labels)
    if spec.team is not None:
        labels["team"] = spec.team
    labels["service"] = spec.service
    labels["severity"] = severity
    return labels


def static_label_names(spec: ServiceSpec) -> set[str]:
    return set(static_labels(spec, "warning")) | {"alertname"}


def alert_inventory(spec: ServiceSpec) -> list[AlertInfo]:
    """Every alert rule the spec generates, in a stable order."""
    out: list[AlertInfo] = []
    for slo in spec.slos:
        for window in slo.burn_windows:
            labels = static_labels(spec, window.effective_severity)
            labels |= {"slo": slo.name, "burn_tier": window.tier, "long_window": str(window.long)}
            out.append(AlertInfo(SLO_ALERT, labels, subject=f"{slo.name}/{window.long}"))
    for name, builtin in BUILTIN_ALERTS.items():
        override = spec.alerts.override(name)
        if not override.enabled:
            continue
        severity = override.severity or builtin.severity
        requires = builtin.requires
        if requires in {"postgres", "redis", "http", "queue"}:
            subjects = [d.name for d in spec.dependencies if d.kind == requires]
            if name == "CacheHitRateLow":
                # One hit-ratio alert per service, whatever the number of Redis; an
                # in-process cache has no dependency, so asking for it by name is enough.
                explicit = getattr(spec.alerts, name) is not None
                subjects = [""] if subjects or explicit else []
            for subject in subjects:
                labels = static_labels(spec, severity)
                carried = builtin.carried
                if name in {"DatabaseDown", "RedisDown", "ProbeFailing"}:
                    labels["dependency"] = subject
                    carried = carried - {"dependency"}
                out.append(AlertInfo(name, labels, carried, subject=subject))
            continue
        if requires == "quota":
            out += [
                AlertInfo(name, static_labels(spec, severity), builtin.carried, subject=q.name)
                for q in spec.quota
            ]
            continue
        if requires == "llm" and spec.llm is None:
            continue
        out.append(AlertInfo(name, static_labels(spec, severity), builtin.carried))
    for custom in spec.alerts.custom:
        labels = static_labels(spec, custom.severity) | dict(custom.labels)
        out.append(AlertInfo(custom.name, labels, subject="custom"))
    return out
