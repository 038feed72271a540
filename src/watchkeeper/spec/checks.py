"""Checks across sections, each returning located problems instead of raising.

These are the mistakes that pass a schema but produce monitoring that lies: a
burn-rate tier that can never fire, a latency SLO between two histogram buckets, an
inhibition whose ``equal`` labels the muted alert does not carry (Alertmanager then
treats the label as empty on both sides and mutes far too much).
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from decimal import Decimal, localcontext
from fractions import Fraction

from watchkeeper.spec.catalog import BUILTIN_ALERTS, SLO_ALERT
from watchkeeper.spec.errors import Path, Problem
from watchkeeper.spec.inventory import alert_inventory, static_label_names
from watchkeeper.spec.model import ServiceSpec
from watchkeeper.spec.slo import SLO, BurnWindow, LatencySLI, ProbeSLI, RatioSLI
from watchkeeper.spec.types import is_env_ref

__all__ = ["RESERVED_LABELS", "check_spec", "spec_warnings"]

RESERVED_LABELS = frozenset({"alertname", "severity", "service", "slo", "burn_tier", "long_window"})


def check_spec(spec: ServiceSpec) -> list[Problem]:
    problems: list[Problem] = []
    problems += _check_labels(spec)
    problems += _check_slos(spec)
    problems += _check_alerts(spec)
    problems += _check_dependencies(spec)
    problems += _check_notify(spec)
    return problems


def _duplicates(names: list[str]) -> set[str]:
    return {n for n, c in Counter(names).items() if c > 1}


def _check_labels(spec: ServiceSpec) -> list[Problem]:
    return [
        Problem(("labels", key), "is set by watchkeeper on every alert; rename the label")
        for key in spec.labels
        if key in RESERVED_LABELS
    ]


def _check_slos(spec: ServiceSpec) -> list[Problem]:
    problems: list[Problem] = []
    dup = _duplicates([s.name for s in spec.slos])
    http_deps = {d.name for d in spec.dependencies if d.kind == "http"}
    bounds = sorted(spec.buckets)
    for i, slo in enumerate(spec.slos):
        at: Path = ("slos", i)
        if slo.name in dup:
            problems.append(
                Problem((*at, "name"), f"{slo.name!r} is used by two SLOs; names must be unique")
            )
        if isinstance(slo.sli, LatencySLI) and slo.sli.threshold not in bounds:
            listed = ", ".join(str(b) for b in bounds)
            problems.append(
                Problem(
                    (*at, "sli", "threshold"),
                    f"must be a bucket bound of http_server_request_duration_seconds "
                    f"(a histogram cannot tell what lies between bounds), got {slo.sli.threshold}; "
                    f"pick one of {listed}",
                )
            )
        if isinstance(slo.sli, ProbeSLI) and slo.sli.dependency not in http_deps:
            problems.append(
                Problem(
                    (*at, "sli", "dependency"),
                    f"must name an http dependency, got {slo.sli.dependency!r}; "
                    f"declared: {', '.join(sorted(http_deps)) or 'none'}",
                )
            )
        for j, window in enumerate(slo.burn_windows):
            problems += _check_window(slo, window, (*at, "burn_windows", j))
    return problems


def _check_window(slo: SLO, window: BurnWindow, at: Path) -> list[Problem]:
    """A window longer than the period, or one whose threshold error ratio would have
    to exceed 100% (factor x budget >= 1), can never alert."""
    problems: list[Problem] = []
    if window.long > slo.window:
        problems.append(
            Problem(
                (*at, "long"),
                f"must not exceed the SLO window ({slo.window}), got {window.long}",
            )
        )
    budget, objective = slo.budget, slo.objective
    factor = window.exact_factor(slo.window)
    if factor * budget >= 1:
        problems.append(
            Problem(
                at,
                f"{window.tier} tier {window.long}/{window.short} can never fire: factor "
                f"{_num(factor)} x error budget {_num(budget * 100)}% = "
                f"{_num(factor * budget * 100)}% "
                "error ratio, and a ratio cannot exceed 100%; lower the factor below "
                f"{_num(1 / budget)} "
                f"or raise the objective (now {objective}%)",
            )
        )
    return problems


def _num(value: Fraction) -> str:
    with localcontext() as ctx:
        ctx.prec = 12
        return format((Decimal(value.numerator) / Decimal(value.denominator)).normalize(), "f")


def _check_alerts(spec: ServiceSpec) -> list[Problem]:
    problems: list[Problem] = []
    for name, builtin in BUILTIN_ALERTS.items():
        override = getattr(spec.alerts, name)
        if override is None:
            continue
        at: Path = ("alerts", name, "threshold")
        value = override.threshold
        if value is None:
            continue
        if name == "QuotaLow":
            problems.append(Problem(at, "is set per quota: use `quota: [{name: ..., low: N}]`"))
        elif builtin.threshold is None:
            problems.append(Problem(at, f"does not apply: {name} has no threshold; remove it"))
        elif builtin.unit == "ratio" and name != "HighCPU" and not 0 < value < 1:
            # A share can never exceed 100%: such an alert could never fire.
            problems.append(
                Problem(
                    at,
                    "must be a share between 0 and 1 (or 0% and 100%), "
                    f"got {_num(Fraction(value))}",
                )
            )
    if spec.alerts.HighLatencyP99 and spec.alerts.HighLatencyP99.threshold is not None:
        top, low = max(spec.buckets), min(spec.buckets)
        value = spec.alerts.HighLatencyP99.threshold
        if not low <= value < top:
            problems.append(
                Problem(
                    ("alerts", "HighLatencyP99", "threshold"),
                    f"must lie between the smallest and largest bucket bound ({low} <= t < {top}) "
                    f"or histogram_quantile cannot exceed it, got {value}",
                )
            )
    names = [c.name for c in spec.alerts.custom]
    dup = _duplicates(names)
    for i, custom in enumerate(spec.alerts.custom):
        if custom.name in BUILTIN_ALERTS or custom.name == SLO_ALERT:
            problems.append(
                Problem(
                    ("alerts", "custom", i, "name"),
                    f"{custom.name!r} is a built-in alert; override it under alerts.{custom.name} "
                    "or pick another name",
                )
            )
        elif custom.name in dup:
            problems.append(
                Problem(
                    ("alerts", "custom", i, "name"),
                    f"{custom.name!r} is used twice; names must be unique",
                )
            )
        for key in custom.labels:
            if key in RESERVED_LABELS:
                problems.append(
                    Problem(
                        ("alerts", "custom", i, "labels", key),
                        "is set by watchkeeper; use `severity:` for severity or rename the label",
                    )
                )
    return problems


def _check_dependencies(spec: ServiceSpec) -> list[Problem]:
    dup = _duplicates([d.name for d in spec.dependencies])
    return [
        Problem(("dependencies", i, "name"), f"{d.name!r} is used twice; names must be unique")
        for i, d in enumerate(spec.dependencies)
        if d.name in dup
    ]


def _check_notify(spec: ServiceSpec) -> list[Problem]:
    notify = spec.notify
    problems: list[Problem] = []
    names = [r.name for r in notify.receivers]
    for name in _duplicates(names):
        problems.append(
            Problem(
                ("notify", "receivers"), f"{name!r} is defined twice; receiver names must be unique"
            )
        )
    known = set(names) or {"default"}
    if notify.receiver is not None and notify.receiver not in known:
        problems.append(Problem(("notify", "receiver"), _unknown_receiver(notify.receiver, known)))
    for i, route in enumerate(notify.routes):
        if route.receiver not in known:
            problems.append(
                Problem(
                    ("notify", "routes", i, "receiver"), _unknown_receiver(route.receiver, known)
                )
            )
    for i, receiver in enumerate(notify.receivers):
        if receiver.webhook is not None and is_env_ref(receiver.webhook.url):
            problems.append(
                Problem(
                    ("notify", "receivers", i, "webhook", "url"),
                    "cannot be a ${VAR} reference: Alertmanager 0.25 has no url_file for webhooks; "
                    "write the URL and put the secret in `bearer_token: ${VAR}`",
                )
            )
    problems += _check_inhibitions(spec)
    return problems


def _unknown_receiver(name: str, known: set[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    hint = f'did you mean "{close[0]}"?' if close else "defined: " + ", ".join(sorted(known))
    return f"names no receiver, got {name!r}; {hint}"


def _check_inhibitions(spec: ServiceSpec) -> list[Problem]:
    problems: list[Problem] = []
    inventory = alert_inventory(spec)
    alert_names = sorted({a.name for a in inventory})
    for i, rule in enumerate(spec.notify.inhibit):
        at: Path = ("notify", "inhibit", i)
        for side in ("source", "target"):
            wanted = getattr(rule, side).get("alertname")
            if wanted is not None and wanted not in alert_names:
                close = difflib.get_close_matches(wanted, alert_names, n=1)
                hint = f'; did you mean "{close[0]}"?' if close else ""
                problems.append(
                    Problem(
                        (*at, side, "alertname"), f"names no generated alert, got {wanted!r}{hint}"
                    )
                )
        targets = [a for a in inventory if a.matches(rule.target)]
        for label in rule.equal:
            lacking = sorted({a.name for a in targets if label not in a.label_names})
            if lacking:
                problems.append(
                    Problem(
                        (*at, "equal"),
                        f"lists {label!r}, which target alert(s) {', '.join(lacking)} do not "
                        "carry, "
                        f"so the inhibition would match on an empty value; use labels every target "
                        f"carries, e.g. {', '.join(sorted(static_label_names(spec)))}",
                    )
                )
    return problems


def spec_warnings(spec: ServiceSpec) -> list[str]:
    """Things that work but probably are not what the user wants."""
    warnings: list[str] = []
    for receiver in spec.notify.receivers:
        secrets = {
            "slack.webhook_url": receiver.slack.webhook_url if receiver.slack else None,
            "pagerduty.routing_key": receiver.pagerduty.routing_key if receiver.pagerduty else None,
            "email.auth_password": receiver.email.auth_password if receiver.email else None,
            "webhook.bearer_token": receiver.webhook.bearer_token if receiver.webhook else None,
        }
        for field, value in sorted(secrets.items()):
            if value is not None and not is_env_ref(value):
                warnings.append(
                    f"notify.receivers {receiver.name!r} {field} is written in clear; "
                    "use an environment reference such as ${SLACK_WEBHOOK_URL}"
                )
    if not spec.kubernetes.selector:
        warnings.append(
            "kubernetes.selector is not set: the ServiceMonitor selects Services labelled "
            f"app.kubernetes.io/name={spec.service}; set kubernetes.selector to your Service's "
            "labels"
        )
    for slo in spec.slos:
        sli = slo.sli
        if isinstance(sli, RatioSLI) and any(
            re.search(r"=~|!~|!=", s or "") for s in (sli.total, sli.bad, sli.good)
        ):
            warnings.append(
                f"SLO {slo.name} selects series with regex or negative matchers, so the "
                "generated tests cannot build input series for it; use equality matchers"
            )
    for custom in spec.alerts.custom:
        if custom.test is None:
            warnings.append(
                f"custom alert {custom.name} has no `test:` series, so no promtool test proves it "
                "fires"
            )
    return warnings
