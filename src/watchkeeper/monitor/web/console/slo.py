"""SLO status from the spec: objective, SLI over the window, budget left and when it
runs out, burn rate per alert window against its threshold.

The error-ratio PromQL is the generator's (``generate.slo.error_ratio_expr``), the
same text behind the ``slo:*`` recording rules and the burn-rate alerts, so the
console shows what the alerts see, whether or not the rules are loaded yet.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from watchkeeper.generate.slo import error_ratio_expr
from watchkeeper.monitor.web.console.charts import Chart, to_chart
from watchkeeper.monitor.web.console.queries import quote
from watchkeeper.monitor.web.console.runner import Runner
from watchkeeper.monitor.web.console.timerange import View
from watchkeeper.spec.durations import Duration
from watchkeeper.spec.model import ServiceSpec
from watchkeeper.spec.slo import SLO, ProbeSLI

__all__ = ["CURRENT_BURN", "BurnStatus", "SLOStatus", "exhaustion_s", "slo_status"]

CURRENT_BURN = Duration(3600)  # "the current burn": the error ratio of the last hour


@dataclass
class BurnStatus:
    tier: str
    severity: str
    long: str
    short: str
    threshold_factor: float  # burn rate at which this window alerts
    long_burn: float | None
    short_burn: float | None

    @property
    def firing(self) -> bool:
        return (
            self.long_burn is not None
            and self.short_burn is not None
            and self.long_burn > self.threshold_factor
            and self.short_burn > self.threshold_factor
        )


@dataclass
class SLOStatus:
    service: str
    name: str
    description: str
    objective: float  # percent
    window: str
    sli: float | None  # good ratio over the window, 0..1
    budget_remaining: float | None  # 1 = untouched, 0 = spent, < 0 overspent
    burn_rate: float | None  # current (last hour), 1 = spending exactly the budget
    exhausted_in_s: float | None  # None: not at the current burn
    burns: list[BurnStatus] = field(default_factory=list)
    chart: Chart | None = None


def exhaustion_s(remaining: float | None, burn_rate: float | None, window_s: int) -> float | None:
    """Seconds until the budget is spent at ``burn_rate`` (0 when already spent).

    A burn rate of 1 spends the whole budget in exactly one window, so the
    ``remaining`` fraction lasts ``remaining * window / burn_rate``.
    """
    if remaining is None:
        return None
    if remaining <= 0:
        return 0.0
    if burn_rate is None or burn_rate <= 0 or not math.isfinite(burn_rate):
        return None
    return remaining * window_s / burn_rate


def _period_fn(slo: SLO) -> str:
    return "rate" if isinstance(slo.sli, ProbeSLI) else "increase"


def _recorded(spec: ServiceSpec, slo: SLO, name: str) -> str:
    return f"{name}{{service={quote(spec.service)}, slo={quote(slo.name)}}}"


def _error_ratio(
    runner: Runner, spec: ServiceSpec, slo: SLO, w: Duration, at: int, *, period: bool = False
) -> float | None:
    """The error ratio over ``w``: the generated recording rule's latest value when the
    rules engine records it (``slo:sli_error:ratio_rate<w>``, the period's
    ``ratio_increase<window>`` every 5m), else the same expression evaluated here."""
    if period:
        recorded = f"slo:sli_error:ratio_increase{slo.window}"
        value = runner.scalar(f"last_over_time({_recorded(spec, slo, recorded)}[10m])", at)
        expr = error_ratio_expr(spec, slo, slo.window, _period_fn(slo))
    else:
        value = runner.scalar(_recorded(spec, slo, f"slo:sli_error:ratio_rate{w}"), at)
        expr = error_ratio_expr(spec, slo, w)
    return value if value is not None else runner.scalar(expr, at)


def slo_status(
    runner: Runner,
    spec: ServiceSpec,
    slo: SLO,
    view: View,
    *,
    chart: bool = True,
    burns: bool = True,
    rule_interval_ms: int = 60_000,
) -> SLOStatus:
    """The SLO's status at the view's end; ``rule_interval_ms``: how often the rules
    engine records ``slo:sli_error:ratio_rate1h`` (the chart reads it no finer)."""
    at = view.end_ms
    budget = float(slo.budget)
    period_err = _error_ratio(runner, spec, slo, slo.window, at, period=True)
    now_err = _error_ratio(runner, spec, slo, CURRENT_BURN, at) if burns else None
    remaining = None if period_err is None else 1 - period_err / budget
    burn_rate = None if now_err is None else now_err / budget
    windows: list[BurnStatus] = []
    for w in slo.burn_windows if burns else ():
        long_err = _error_ratio(runner, spec, slo, w.long, at)
        short_err = _error_ratio(runner, spec, slo, w.short, at)
        windows.append(
            BurnStatus(
                tier=w.tier,
                severity=str(w.effective_severity),
                long=str(w.long),
                short=str(w.short),
                threshold_factor=float(w.exact_factor(slo.window)),
                long_burn=None if long_err is None else long_err / budget,
                short_burn=None if short_err is None else short_err / budget,
            )
        )
    status = SLOStatus(
        service=spec.service,
        name=slo.name,
        description=slo.description,
        objective=float(slo.objective),
        window=str(slo.window),
        sli=None if period_err is None else 1 - period_err,
        budget_remaining=remaining,
        burn_rate=burn_rate,
        exhausted_in_s=exhaustion_s(remaining, burn_rate, slo.window.seconds),
        burns=windows,
    )
    if chart:
        step = view.step_ms(view.width // 2)
        span = Duration(max(3600, step // 1000))
        # The recorded 1h ratio when it covers the range (read at its evaluations'
        # resolution, nothing lies between them), else computed over ``span``.
        r_step = max(step, rule_interval_ms)
        start, end = view.aligned(r_step)
        expr = f"{_recorded(spec, slo, f'slo:sli_error:ratio_rate{CURRENT_BURN}')} / {budget!r}"
        matrix = runner.matrix(expr, start, end, r_step)
        covered = matrix.series and len(matrix.series[0].points) * 2 >= (end - start) // r_step
        if covered:
            span, step = CURRENT_BURN, r_step
        else:
            start, end = view.aligned(step)
            expr = f"({error_ratio_expr(spec, slo, span)}) / {budget!r}"
            matrix = runner.matrix(expr, start, end, step)
        status.chart = to_chart(
            f"Burn rate ({span} window)", matrix, start, end, step, label=lambda _: "burn rate"
        )
        status.chart.error = runner.last_error(expr)
    return status
