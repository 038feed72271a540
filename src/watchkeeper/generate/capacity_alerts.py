"""Capacity alerts: a quota's projected exhaustion and LLM spend per hour."""

from __future__ import annotations

from decimal import Decimal

from watchkeeper.generate.alert_context import AlertContext, Made
from watchkeeper.generate.promql import num, selector
from watchkeeper.generate.rules import AlertRule, Expected, Scenario, Series
from watchkeeper.generate.scenarios import counter
from watchkeeper.spec.durations import Duration

__all__ = ["llm_cost", "quota_exhaustion"]


def quota_exhaustion(c: AlertContext) -> AlertRule:
    quota = next(q for q in c.spec.quota if q.name == c.info.subject)
    override = c.spec.alerts.override(c.info.name)
    horizon = override.horizon or quota.horizon
    lookback = override.window or Duration(3600)
    metric = "quota_remaining"
    query = (
        f"predict_linear({selector(metric, job=c.job, quota=quota.name)}[{lookback}], "
        f"{horizon.seconds})"
    )
    labels = {"job": c.job, "instance": c.instance, "quota": quota.name}
    after = 60 + c.hold.seconds
    minutes = after // 60 + 5
    start = Decimal(100000)
    h = Decimal(horizon.minutes)
    # Firing: at this pace the quota is gone at 90% of the horizon, from the start.
    fast = start / (h * Decimal("0.9"))
    # Quiet: the run-out lies beyond the horizon for the whole test.
    slow = start / (h + minutes + 10)
    early = ((c.hold.seconds, ()),) if c.hold.seconds >= 60 else ()
    sel = selector(metric, **labels)
    scenarios = (
        Scenario(
            "running out within the horizon",
            (Series(sel, f"100000-{_num6(fast)}x{minutes}"),),
            (*early, (after, (Expected(labels, 0),))),
        ),
        Scenario(
            "running out after the horizon",
            (Series(sel, f"100000-{_num6(slow)}x{minutes}"),),
            ((after, ()),),
        ),
    )
    return c.rule(
        f"{query} < 0",
        f"{c.spec.service}: quota {quota.name} runs out within {horizon}",
        f"At the pace of the last {lookback}, quota {quota.name} is exhausted within {horizon}.",
        query,
        scenarios,
        board="llm",
    )


def _num6(value: Decimal) -> str:
    return format(value.quantize(Decimal("0.000001")).normalize(), "f")


def llm_cost(c: AlertContext) -> AlertRule:
    """Spend at the pace of the last ``window`` (default 1h) against the hourly budget:
    ``increase`` over the window scaled to an hour, so any window compares dollars per
    hour with dollars per hour (a shorter one reacts sooner and is noisier)."""
    assert c.spec.llm is not None
    override = c.spec.alerts.override(c.info.name)
    c.threshold = (
        override.threshold if override.threshold is not None else c.spec.llm.budget_usd_per_hour
    )
    window = override.window or Duration(3600)
    spend = f"sum(increase({selector('llm_cost_usd_total', job=c.job)}[{window}]))"
    hourly = window.seconds == 3600
    query = spend if hourly else f"{spend} * 3600 / {window.seconds}"
    over = "The last hour cost" if hourly else f"At the pace of the last {window}, LLM spend is"

    def make(value: Decimal, minutes: int) -> Made:
        labels = {"job": c.job, "instance": c.instance, "model": "default"}
        return (
            [counter(selector("llm_cost_usd_total", **labels), value / 60, minutes)],
            {},
            float(value),
        )

    return c.rule(
        f"{query} > {num(c.threshold)}",
        f'{c.spec.service}: LLM spend is ${{{{ $value | printf "%.4g" }}}} per hour',
        f"{over} more than the {num(c.threshold)} USD/hour budget.",
        query,
        # The window is full of spend at the steady pace after one window.
        c.scenarios(make, above=True, settle=window.seconds, earliest=60),
        board="llm",
    )
