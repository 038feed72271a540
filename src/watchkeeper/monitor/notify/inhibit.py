"""Inhibition: Alertmanager 0.25's ``Inhibitor.Mutes``.

A target alert is muted while a *firing* source alert exists that agrees with it
on every ``equal`` label (absent on both sides counts as equal). An alert that
matches both the source and the target side of a rule cannot inhibit itself
through that rule (nor any other alert that matches both sides).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from watchkeeper.monitor.notify.alerts import AlertEntry
from watchkeeper.monitor.notify.config import InhibitRule

__all__ = ["inhibited_by"]


def _all(matchers: Iterable[object], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels.get(m.name, "")) for m in matchers)  # type: ignore[attr-defined]


def inhibited_by(
    rules: Sequence[InhibitRule],
    labels: Mapping[str, str],
    alerts: Sequence[AlertEntry],
    now_ms: int,
) -> list[str]:
    """Fingerprints of the source alerts that mute ``labels`` (empty: not inhibited)."""
    for rule in rules:
        if not _all(rule.target, labels):
            continue
        two_sided = _all(rule.source, labels)
        for source in alerts:
            if source.resolved_at(now_ms) or not _all(rule.source, source.labels):
                continue
            if any(source.labels.get(n, "") != labels.get(n, "") for n in rule.equal):
                continue
            if two_sided and _all(rule.target, source.labels):
                continue
            return [source.fingerprint]
    return []
