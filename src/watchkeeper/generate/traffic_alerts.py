"""TrafficSpike and TrafficDrop: the request rate against the same window a day
earlier (``offset 1d``), so daily seasonality does not page anyone at night."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from watchkeeper.generate.alert_context import AlertContext
from watchkeeper.generate.promql import HTTP_COUNT, num, selector
from watchkeeper.generate.rules import AlertRule, Expected, Scenario, Series
from watchkeeper.generate.scenarios import nudge
from watchkeeper.spec.durations import Duration
from watchkeeper.spec.inventory import AlertInfo, alert_inventory
from watchkeeper.spec.model import ServiceSpec

__all__ = ["traffic_alert"]


def traffic_alert(above: bool) -> Callable[[AlertContext], AlertRule]:
    def build(c: AlertContext) -> AlertRule:
        window = c.spec.alerts.override(c.info.name).window or Duration(3600)
        total = selector(HTTP_COUNT, job=c.job)
        now = f"sum(rate({total}[{window}]))"
        then = f"sum(rate({total}[{window}] offset {c.offset}))"
        op = ">" if above else "<"
        word = "more" if above else "less"
        scenarios = _traffic_scenario(c.spec) if above or not _spike_enabled(c.spec) else ()
        return c.rule(
            # A near-idle service (under one request a minute a day ago) is all noise.
            f"{now} {op} {num(c.threshold)} * {then}\nand on ()\n  {then} * 60 >= 1",
            f'{c.spec.service}: {{{{ $value | printf "%.4g" }}}} requests/s, {word} than '
            f"{num(c.threshold)}x the rate {c.offset} ago",
            f"The request rate over the last {window} is {word} than {num(c.threshold)} times the "
            f"same window {c.offset} earlier.",
            now,
            scenarios,
        )

    return build


def _spike_enabled(spec: ServiceSpec) -> bool:
    return any(i.name == "TrafficSpike" for i in alert_inventory(spec))


def _traffic_scenario(spec: ServiceSpec) -> tuple[Scenario, ...]:
    """One long scenario for both traffic alerts: a day of steady traffic, then four
    phases (just above / below the spike factor, just below / above the drop factor).

    One group instead of four because the baseline needs a day of history, and
    promtool evaluates every rule at every step of it.
    """
    names = {i.name for i in alert_inventory(spec)}
    spike, drop = (
        AlertContext(spec, _info(spec, "TrafficSpike")),
        AlertContext(spec, _info(spec, "TrafficDrop")),
    )
    offset = spike.offset if "TrafficSpike" in names else drop.offset
    window = max(
        spec.alerts.override("TrafficSpike").window or Duration(3600),
        spec.alerts.override("TrafficDrop").window or Duration(3600),
    )
    hold = max(spike.hold.seconds, drop.hold.seconds)
    phase = (window.seconds + hold) // 60 + 10
    ratios = [
        nudge(spike.threshold, True),
        nudge(spike.threshold, False),
        nudge(drop.threshold, False),
        nudge(drop.threshold, True),
    ]
    base = offset.minutes
    values, total = f"0+60x{base}", Decimal(60 * base)
    for ratio in ratios:
        step = ratio * 60
        values += f" {num(total + step)}+{num(step)}x{phase - 1}"
        total += step * phase
    sel = selector(
        HTTP_COUNT,
        job=spec.service,
        instance=spec.parsed_targets[0].address,
        http_request_method="GET",
        http_route="/",
        http_response_status_code="200",
    )
    starts = [offset.seconds + i * phase * 60 for i in range(4)]
    checks: list[tuple[str, int, tuple[Expected, ...]]] = []
    for name, ctx, start, ratio, fires in (
        ("TrafficSpike", spike, starts[0], ratios[0], True),
        ("TrafficSpike", spike, starts[1], ratios[1], False),
        ("TrafficDrop", drop, starts[2], ratios[2], True),
        ("TrafficDrop", drop, starts[3], ratios[3], False),
    ):
        if name not in names:
            continue
        settled = start + window.seconds + ctx.hold.seconds + 300
        if fires:
            checks.append((name, start + ctx.hold.seconds, ()))
            checks.append((name, settled, (Expected({}, float(ratio)),)))
        else:
            checks.append((name, settled, ()))
    first = next(name for name in ("TrafficSpike", "TrafficDrop") if name in names)
    own = tuple((at, exp) for n, at, exp in checks if n == first)
    other = tuple(c for c in checks if c[0] != first)
    label = ", ".join(f"{r}x" for r in ratios)
    return (
        Scenario(
            f"a day at 1 request/s, then {label} of it", (Series(sel, values),), own, 60, other
        ),
    )


def _info(spec: ServiceSpec, name: str) -> AlertInfo:
    found = [i for i in alert_inventory(spec) if i.name == name]
    return found[0] if found else AlertInfo(name, {"severity": "warning"})
