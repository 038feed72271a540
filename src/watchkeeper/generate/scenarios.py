"""Building blocks for alert test scenarios: values just past a threshold, and the
check times before and after an alert's ``for`` hold.

"Just above" is the threshold nudged by about 0.1% and rounded to four significant
digits away from it. Annotations print values with four significant digits (``%.4g``),
so the value Prometheus computes prints the same way whatever its last float bit (a
five-digit value like 1.2625 could round either way). 0.1% is close enough that a rule
whose threshold is off by a fraction of a percent fails its tests.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from watchkeeper.generate.promql import num
from watchkeeper.generate.rules import Expected, Scenario, Series

__all__ = ["counter", "gauge", "nudge", "threshold_scenarios"]


def nudge(threshold: Decimal, up: bool) -> Decimal:
    """A value about 0.1% beyond ``threshold`` with at most four significant digits."""
    x = threshold * (Decimal("1.001") if up else Decimal("0.999"))
    step = Decimal(1).scaleb(x.adjusted() - 3)
    value = x.quantize(step, rounding=ROUND_CEILING if up else ROUND_FLOOR)
    if up and value <= threshold:
        value += step
    if not up and value >= threshold:
        value -= step
    return value.normalize()


def _fmt(value: Decimal | float) -> str:
    return format(Decimal(str(value)).normalize(), "f")


def counter(series: str, per_minute: Decimal | float, minutes: int) -> Series:
    """A counter growing by ``per_minute`` each 1m sample, from zero."""
    return Series(series, f"0+{_fmt(per_minute)}x{minutes}")


def gauge(series: str, value: Decimal | float, minutes: int) -> Series:
    return Series(series, f"{_fmt(value)}x{minutes}")


def threshold_scenarios(
    make: object,
    threshold: Decimal,
    above: bool,
    hold: int,
    settle: int,
    earliest: int = 0,
) -> tuple[Scenario, Scenario]:
    """A firing and a quiet scenario around ``threshold``.

    ``make(value, minutes) -> (series, labels, observed)`` builds input series holding
    the expression at ``value``. The expression may turn true as early as ``earliest``
    seconds and is true by ``settle``; so at ``earliest + hold - 1m`` the alert cannot
    fire yet, and at ``settle + hold`` it must.
    """
    assert callable(make)
    after = settle + hold
    minutes = after // 60 + 5
    firing_value = nudge(threshold, up=above)
    quiet_value = nudge(threshold, up=not above)
    series, labels, observed = make(firing_value, minutes)
    checks: list[tuple[int, tuple[Expected, ...]]] = []
    if hold >= 60:
        checks.append((earliest + hold - 60, ()))
    checks.append((after, (Expected(labels, observed),)))
    quiet_series, _, _ = make(quiet_value, minutes)
    word = "above" if above else "below"
    other = "below" if above else "above"
    return (
        Scenario(f"just {word} the threshold ({num(firing_value)})", tuple(series), tuple(checks)),
        Scenario(
            f"just {other} the threshold ({num(quiet_value)})", tuple(quiet_series), ((after, ()),)
        ),
    )
