"""SLO recording rules and multi-window, multi-burn-rate alerts.

- ``slo:sli_error:ratio_rate<w>``: error ratio over window ``w`` (one per window any
  burn alert uses), recorded so alerts and dashboards read the same numbers.
- ``slo:sli_error:ratio_increase<period>``: the period's error ratio as a ratio of
  summed increases: exact under uneven traffic, unlike an average of 5m ratios.
- ``slo:error_budget_remaining:ratio`` and ``slo:objective:ratio`` for dashboards.

Each burn window is its own alert rule (labels ``burn_tier`` and ``long_window``), so
a test can show that an error ratio just below 14.4x budget does not fire the 1h page
while the 6h page (6x) rightly does.
"""

from __future__ import annotations

import re
from decimal import ROUND_FLOOR, Decimal
from fractions import Fraction

from watchkeeper.generate.alerts import exporter_job
from watchkeeper.generate.links import dashboard_url, runbook_url
from watchkeeper.generate.promql import HTTP_BUCKET, HTTP_COUNT, le_matcher, num, prose, selector
from watchkeeper.generate.rules import (
    AlertRule,
    Expected,
    RecordingRule,
    RuleGroup,
    Scenario,
    Series,
)
from watchkeeper.generate.scenarios import counter, nudge
from watchkeeper.spec.catalog import SLO_ALERT
from watchkeeper.spec.durations import Duration
from watchkeeper.spec.inventory import static_labels
from watchkeeper.spec.model import ServiceSpec
from watchkeeper.spec.slo import SLO, AvailabilitySLI, BurnWindow, LatencySLI, ProbeSLI, RatioSLI

__all__ = ["error_ratio_expr", "slo_groups", "window_threshold"]


def window_threshold(slo: SLO, window: BurnWindow) -> Fraction:
    """Error ratio above which the window alerts: factor x (1 - objective)."""
    return window.exact_factor(slo.window) * slo.budget


def error_ratio_expr(spec: ServiceSpec, slo: SLO, w: Duration, fn: str = "rate") -> str:
    """PromQL for the SLI's error ratio over ``w`` (``fn`` rate, or increase for the period)."""
    r = f"[{w}]"
    sli = slo.sli
    if isinstance(sli, AvailabilitySLI):
        codes = "5..|429" if sli.count_429_as_error else "5.."
        bad = selector(HTTP_COUNT, job=spec.service, http_response_status_code__re=codes)
        return f"sum({fn}({bad}{r})) / sum({fn}({selector(HTTP_COUNT, job=spec.service)}{r}))"
    if isinstance(sli, LatencySLI):
        good = selector(HTTP_BUCKET, job=spec.service, le__re=le_matcher(sli.threshold))
        return f"1 - sum({fn}({good}{r})) / sum({fn}({selector(HTTP_COUNT, job=spec.service)}{r}))"
    if isinstance(sli, RatioSLI):
        if sli.bad is not None:
            return f"sum({fn}({sli.bad}{r})) / sum({fn}({sli.total}{r}))"
        return f"1 - sum({fn}({sli.good}{r})) / sum({fn}({sli.total}{r}))"
    assert isinstance(sli, ProbeSLI)
    probe = selector("probe_success", job=exporter_job(spec, sli.dependency))
    return f"1 - avg(avg_over_time({probe}{r}))"


def _events_expr(spec: ServiceSpec, slo: SLO, w: Duration) -> str:
    sli = slo.sli
    if isinstance(sli, ProbeSLI):
        probe = selector("probe_success", job=exporter_job(spec, sli.dependency))
        return f"sum(count_over_time({probe}[{w}]))"
    total = sli.total if isinstance(sli, RatioSLI) else selector(HTTP_COUNT, job=spec.service)
    return f"sum(increase({total}[{w}]))"


def slo_groups(spec: ServiceSpec) -> list[RuleGroup]:
    groups = [_group(spec, slo) for slo in spec.slos]
    if spec.slos:
        groups.append(_period_group(spec))
    return groups


def _period_group(spec: ServiceSpec) -> RuleGroup:
    """The period SLI and budget, for dashboards only: a 30d range is expensive and
    moves slowly, so it is evaluated every 5m rather than every minute."""
    rules: list[RecordingRule | AlertRule] = []
    for slo in spec.slos:
        ids = {"service": spec.service, "slo": slo.name}
        period = f"slo:sli_error:ratio_increase{slo.window}"
        period_fn = "rate" if isinstance(slo.sli, ProbeSLI) else "increase"
        rules += [
            RecordingRule(period, error_ratio_expr(spec, slo, slo.window, period_fn), ids),
            RecordingRule(
                "slo:objective:ratio", f"vector({num(Fraction(slo.objective) / 100)})", ids
            ),
            RecordingRule(
                "slo:error_budget_remaining:ratio",
                f"1 - {selector(period, **ids)} / {num(slo.budget)}",
                ids,
            ),
        ]
    return RuleGroup(f"{spec.service}-slo-period", tuple(rules), Duration(300))


def _group(spec: ServiceSpec, slo: SLO) -> RuleGroup:
    ids = {"service": spec.service, "slo": slo.name}
    windows = sorted({w for b in slo.burn_windows for w in (b.long, b.short)})
    rules: list[RecordingRule | AlertRule] = [
        RecordingRule(f"slo:sli_error:ratio_rate{w}", error_ratio_expr(spec, slo, w), ids)
        for w in windows
    ]
    rules += [_alert(spec, slo, window) for window in slo.burn_windows]
    return RuleGroup(f"{spec.service}-slo-{slo.name}", tuple(rules))


def _alert(spec: ServiceSpec, slo: SLO, window: BurnWindow) -> AlertRule:
    ids = {"service": spec.service, "slo": slo.name}
    threshold = num(window_threshold(slo, window))
    long = selector(f"slo:sli_error:ratio_rate{window.long}", **ids)
    short = selector(f"slo:sli_error:ratio_rate{window.short}", **ids)
    expr = f"(\n  {long} > {threshold}\nand\n  {short} > {threshold}\n)"
    if slo.min_events:
        expr += f"\nand on ()\n  {_events_expr(spec, slo, window.long)} >= {slo.min_events}"
    labels = static_labels(spec, window.effective_severity) | {
        "slo": slo.name,
        "burn_tier": window.tier,
        "long_window": str(window.long),
    }
    exact_factor = window.exact_factor(slo.window)
    factor = prose(exact_factor)
    # How long the whole budget lasts at the threshold burn rate: the urgency, in time.
    lasts = Duration(int(slo.window.seconds / exact_factor) // 60 * 60)
    annotations = {
        "summary": (
            f"{spec.service}: SLO {slo.name} burns its {slo.window} error budget {factor}x too fast"
        ),
        "description": (
            f"{{{{ $value | humanizePercentage }}}} of events failed over the last {window.long} "
            f"and the last {window.short}, above {prose(window_threshold(slo, window) * 100)}% "
            f"({factor}x the {prose(slo.budget * 100)}% budget of a "
            f"{num(Fraction(slo.objective))}% objective): at that rate the {slo.window} budget "
            f"is spent in {lasts}."
        ),
        "runbook_url": runbook_url(spec, SLO_ALERT),
        "dashboard_url": dashboard_url(spec, "slo"),
    }
    return AlertRule(
        SLO_ALERT,
        expr,
        window.effective_hold,
        labels,
        annotations,
        _scenarios(spec, slo, window),
        f"slo:sli_error:ratio_rate{window.long}",
    )


def _scenarios(spec: ServiceSpec, slo: SLO, window: BurnWindow) -> tuple[Scenario, ...]:
    """Steady error ratios just above and just below this window's threshold.

    Ratios of rates are exact from the second sample (1m), so each window that the
    ratio exceeds fires exactly at 1m + its hold; the expected set at a check time
    lists every window of the SLO that must fire by then.
    """
    threshold = window_threshold(slo, window)
    exact = Decimal(threshold.numerator) / Decimal(threshold.denominator)
    # A probe average is defined from the first sample; a rate needs a second one.
    start = 0 if isinstance(slo.sli, ProbeSLI) else 60
    after = start + window.effective_hold.seconds
    minutes = max(b.effective_hold.seconds for b in slo.burn_windows) // 60 + 6
    per_minute = Decimal(max(1000, slo.min_events))

    def expected(ratio: Decimal, at: int) -> tuple[Expected, ...]:
        out = []
        for other in slo.burn_windows:
            if (
                Fraction(ratio) > window_threshold(slo, other)
                and at >= start + other.effective_hold.seconds
            ):
                out.append(
                    Expected(
                        {
                            "slo": slo.name,
                            "burn_tier": other.tier,
                            "long_window": str(other.long),
                            "severity": other.effective_severity,
                        },
                        float(ratio),
                    )
                )
        return tuple(out)

    above, below = nudge(exact, up=True), nudge(exact, up=False)
    if not _series(spec, slo, above, per_minute, minutes):
        return ()  # regex selectors: no concrete series to feed promtool
    tag = f"{window.tier} {window.long}/{window.short}"
    early = start + window.effective_hold.seconds - 60
    scenarios = [
        Scenario(
            f"SLO {slo.name}: error ratio {above} just above the {tag} threshold {num(threshold)}",
            _series(spec, slo, above, per_minute, minutes),
            ((early, expected(above, early)), (after, expected(above, after))),
        ),
        Scenario(
            f"SLO {slo.name}: error ratio {below} just below the {tag} threshold {num(threshold)}",
            _series(spec, slo, below, per_minute, minutes),
            ((after, expected(below, after)),),
        ),
    ]
    if slo.min_events and window is slo.burn_windows[0]:
        sparse = (Decimal(slo.min_events) / (minutes + 5)).quantize(Decimal("0.01"), ROUND_FLOOR)
        scenarios.append(
            Scenario(
                f"SLO {slo.name}: too few events for the low-traffic guard",
                _series(spec, slo, min(Decimal(1), above * 2), sparse, minutes),
                ((after, ()),),
            )
        )
    return tuple(scenarios)


def _series(
    spec: ServiceSpec, slo: SLO, ratio: Decimal, per_minute: Decimal, minutes: int
) -> tuple[Series, ...]:
    """Counters (or probe results) with a steady error ratio."""
    sli = slo.sli
    job = {"job": spec.service, "instance": spec.parsed_targets[0].address}
    bad, good = per_minute * ratio, per_minute * (1 - ratio)
    if isinstance(sli, AvailabilitySLI):
        base = {**job, "http_request_method": "GET", "http_route": "/"}
        return (
            counter(selector(HTTP_COUNT, **base, http_response_status_code="200"), good, minutes),
            counter(selector(HTTP_COUNT, **base, http_response_status_code="500"), bad, minutes),
        )
    if isinstance(sli, LatencySLI):
        le = num(sli.threshold)
        le = le if "." in le else f"{le}.0"
        return (
            counter(selector(HTTP_BUCKET, **job, le=le), good, minutes),
            counter(selector(HTTP_COUNT, **job), per_minute, minutes),
        )
    if isinstance(sli, RatioSLI):
        part, count = (sli.bad, bad) if sli.bad is not None else (sli.good or "", good)
        return _ratio_series(part, sli.total, count, per_minute, minutes)
    probe = selector(
        "probe_success", job=exporter_job(spec, sli.dependency), instance=sli.dependency
    )
    # The average of 0/1 probe results is what the rules read; a steady fraction is it.
    return (Series(probe, f"{num(1 - ratio)}x{minutes}"),)


_SELECTOR = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{(.*)\})?$")
_MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')


def parse_equality_selector(text: str) -> tuple[str, dict[str, str]] | None:
    """``name{a="b"}`` as (name, labels); None when it uses regex or negative matchers."""
    match = _SELECTOR.match(text.strip())
    if match is None:
        return None
    name, body = match.group(1), (match.group(2) or "").strip()
    labels: dict[str, str] = {}
    pos = 0
    while pos < len(body):
        m = _MATCHER.match(body, pos)
        if m is None:
            return None
        labels[m.group(1)] = m.group(2)
        pos = m.end()
    return name, labels


def _ratio_series(
    part: str, total: str, count: Decimal, per_minute: Decimal, minutes: int
) -> tuple[Series, ...]:
    """Series for a ratio SLI: ``count`` events/min matching ``part``, the rest only ``total``.

    When the part's series also match ``total`` (the usual ``{result="error"}`` subset),
    the total-only series gets the remaining events and a distinct label value.
    """
    p, t = parse_equality_selector(part), parse_equality_selector(total)
    if p is None or t is None:
        return ()
    (p_name, p_labels), (t_name, t_labels) = p, t
    overlaps = p_name == t_name and t_labels.items() <= p_labels.items()
    if not overlaps:
        return (
            counter(selector(p_name, **p_labels), count, minutes),
            counter(selector(t_name, **t_labels), per_minute, minutes),
        )
    rest = dict(t_labels)
    for key, value in p_labels.items():
        if key not in rest:
            rest[key] = f"not-{value}"
    return (
        counter(selector(p_name, **p_labels), count, minutes),
        counter(selector(t_name, **rest), per_minute - count, minutes),
    )
