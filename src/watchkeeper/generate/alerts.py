"""The golden-signal, saturation, dependency, quota and cost alerts, and custom ones.

Each builder returns the rule together with the scenarios that prove it: series just
past the threshold (firing after the hold, not before) and just short of it (quiet).
Thresholds come from the spec or the catalog's defaults (the guides' numbers).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from watchkeeper.generate.links import dashboard_url, runbook_url
from watchkeeper.generate.promql import HTTP_BUCKET, HTTP_COUNT, go_float, num, selector
from watchkeeper.generate.rules import AlertRule, Expected, Scenario, Series
from watchkeeper.generate.scenarios import counter, gauge, nudge, threshold_scenarios
from watchkeeper.spec.catalog import BUILTIN_ALERTS
from watchkeeper.spec.durations import Duration
from watchkeeper.spec.inventory import AlertInfo, alert_inventory
from watchkeeper.spec.model import ServiceSpec

__all__ = ["builtin_alerts", "custom_alerts", "exporter_job"]

Made = tuple[list[Series], dict[str, str], float]


def exporter_job(spec: ServiceSpec, dependency: str) -> str:
    """Scrape job of a dependency's exporter (or blackbox probe)."""
    return f"{spec.service}-{dependency}"


class _Ctx:
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
    from watchkeeper.spec.durations import parse_duration

    return parse_duration(text)


def _pct(value: Decimal) -> str:
    return num(value * 100) + "%"


def high_error_rate(c: _Ctx) -> AlertRule:
    w = f"[{c.window}]"
    bad = selector(HTTP_COUNT, job=c.job, http_response_status_code__re="5..")
    total = selector(HTTP_COUNT, job=c.job)
    query = f"sum(rate({bad}{w})) / sum(rate({total}{w}))"

    def make(ratio: Decimal, minutes: int) -> Made:
        n = Decimal(1000)
        base = {
            "job": c.job,
            "instance": c.instance,
            "http_request_method": "GET",
            "http_route": "/",
        }
        ok = selector(HTTP_COUNT, **base, http_response_status_code="200")
        err = selector(HTTP_COUNT, **base, http_response_status_code="500")
        return (
            [counter(ok, n * (1 - ratio), minutes), counter(err, n * ratio, minutes)],
            {},
            float(ratio),
        )

    return c.rule(
        f"{query} > {num(c.threshold)}",
        f"{c.spec.service}: {{{{ $value | humanizePercentage }}}} of HTTP requests fail",
        f"More than {_pct(c.threshold)} of requests to {c.spec.service} answered 5xx over the "
        f"last {c.window}.",
        query,
        c.scenarios(make, above=True, settle=60, earliest=60),
    )


def high_latency_p99(c: _Ctx) -> AlertRule:
    query = (
        "histogram_quantile(0.99, sum by (le) "
        f"(rate({selector(HTTP_BUCKET, job=c.job)}[{c.window}])))"
    )
    bounds = sorted(c.spec.buckets)

    def series_in(lo: Decimal, hi: Decimal | None, minutes: int) -> list[Series]:
        # Every observation falls in (lo, hi]; hi None is the +Inf bucket.
        out = []
        for bound in [*bounds, None]:
            le = "+Inf" if bound is None else go_float(bound)
            inside = bound is None or (hi is not None and bound >= hi)
            sel = selector(HTTP_BUCKET, job=c.job, instance=c.instance, le=le)
            out.append(counter(sel, 600 if inside else 0, minutes))
        return out

    thr = c.threshold
    above_lo = min(b for b in bounds if b >= thr)
    above_hi = min((b for b in bounds if b > above_lo), default=None)
    below_hi = max((b for b in bounds if b <= thr), default=bounds[0])
    below_lo = max((b for b in bounds if b < below_hi), default=Decimal(0))
    checks_after = c.hold.seconds + 60
    # histogram_quantile interpolates linearly inside the bucket; in +Inf it answers lo.
    firing_value = (
        float(above_lo) if above_hi is None else float(above_lo) + float(above_hi - above_lo) * 0.99
    )
    minutes = checks_after // 60 + 5
    early = ((c.hold.seconds, ()),) if c.hold.seconds >= 60 else ()
    firing = Scenario(
        f"every request above {num(above_lo)}s (p99 just above {num(thr)}s)",
        tuple(series_in(above_lo, above_hi, minutes)),
        (*early, (checks_after, (Expected({}, firing_value),))),
    )
    quiet = Scenario(
        f"every request between {num(below_lo)}s and {num(below_hi)}s (p99 just below {num(thr)}s)",
        tuple(series_in(below_lo, below_hi, minutes)),
        ((checks_after, ()),),
    )
    return c.rule(
        f"{query} > {num(thr)}",
        f'{c.spec.service}: p99 latency is {{{{ $value | printf "%.4g" }}}}s',
        f"The 99th percentile of HTTP request duration of {c.spec.service} is above {num(thr)}s "
        f"over the last {c.window}.",
        query,
        (firing, quiet),
    )


def service_down(c: _Ctx) -> AlertRule:
    up = selector("up", job=c.job)
    expr = f"sum by (job) ({up}) == 0 or absent({up})"
    after = c.hold.seconds
    minutes = after // 60 + 5
    early = ((after - 60, ()),) if after >= 60 else ()
    target = selector("up", job=c.job, instance=c.instance)
    scenarios = (
        Scenario(
            "every target down",
            (gauge(target, 0, minutes),),
            (*early, (after, (Expected({"job": c.job}, 0),))),
        ),
        Scenario("a target up", (gauge(target, 1, minutes),), ((after, ()),)),
    )
    return c.rule(
        expr,
        f"{c.spec.service} is down: no scrape target is up",
        f"Prometheus cannot scrape any target of job {c.job} (or the job has no targets) "
        f"for {c.hold}.",
        up,
        scenarios,
    )


def _gauge_alert(
    metric: str, extra: dict[str, str], above: bool, summary: str, description: str
) -> Callable[[_Ctx], AlertRule]:
    def build(c: _Ctx) -> AlertRule:
        query = selector(metric, job=c.job)
        op = ">" if above else "<"

        def make(value: Decimal, minutes: int) -> Made:
            labels = {"job": c.job, "instance": c.instance, **extra}
            return [gauge(selector(metric, **labels), value, minutes)], labels, float(value)

        return c.rule(
            f"{query} {op} {num(c.threshold)}",
            summary.format(s=c.spec.service),
            description.format(t=_pct(c.threshold)),
            query,
            c.scenarios(make, above, settle=0),
        )

    return build


def high_cpu(c: _Ctx) -> AlertRule:
    query = f"rate({selector('process_cpu_seconds_total', job=c.job)}[{c.window}])"

    def make(value: Decimal, minutes: int) -> Made:
        labels = {"job": c.job, "instance": c.instance}
        return (
            [counter(selector("process_cpu_seconds_total", **labels), value * 60, minutes)],
            labels,
            float(value),
        )

    return c.rule(
        f"{query} > {num(c.threshold)}",
        f"{c.spec.service} on {{{{ $labels.instance }}}} uses "
        f"{{{{ $value | humanizePercentage }}}} of a CPU core",
        f"The process uses more than {_pct(c.threshold)} of one core (Python's GIL makes one core "
        "its ceiling for most work).",
        query,
        c.scenarios(make, above=True, settle=c.window.seconds, earliest=60),
    )


def health_check_failing(c: _Ctx) -> AlertRule:
    metric = "watchkeeper_health_check_status"
    query = selector(metric, job=c.job, critical="true")
    after = c.hold.seconds
    minutes = after // 60 + 5
    labels = {"job": c.job, "instance": c.instance, "check": "database", "critical": "true"}
    early = ((after - 60, ()),) if after >= 60 else ()
    scenarios = (
        Scenario(
            "a critical check failing",
            (gauge(selector(metric, **labels), 0, minutes),),
            (*early, (after, (Expected(labels, 0),))),
        ),
        Scenario(
            "the critical check passing",
            (gauge(selector(metric, **labels), 1, minutes),),
            ((after, ()),),
        ),
    )
    return c.rule(
        f"{query} == 0",
        f"{c.spec.service}: health check {{{{ $labels.check }}}} is failing",
        "A critical health check fails, so readiness probes fail too.",
        query,
        scenarios,
    )


def _down_alert(metric: str, what: str) -> Callable[[_Ctx], AlertRule]:
    def build(c: _Ctx) -> AlertRule:
        job = exporter_job(c.spec, c.info.subject)
        query = selector(metric, job=job)
        after = c.hold.seconds
        minutes = after // 60 + 5
        labels = {"job": job, "instance": f"{c.info.subject}:9999"}
        early = ((after - 60, ()),) if after >= 60 else ()
        scenarios = (
            Scenario(
                f"{metric} is 0",
                (gauge(selector(metric, **labels), 0, minutes),),
                (*early, (after, (Expected(labels, 0),))),
            ),
            Scenario(
                f"{metric} is 1", (gauge(selector(metric, **labels), 1, minutes),), ((after, ()),)
            ),
            Scenario(
                "the exporter itself cannot be scraped",
                (gauge(selector("up", **labels), 0, minutes),),
                (*early, (after, (Expected(labels, 0),))),
            ),
        )
        # An exporter that is down reports nothing at all: count it as down too.
        up = selector("up", job=job)
        return c.rule(
            f"{query} == 0 or {up} == 0",
            f"{c.spec.service}: {what} {c.info.subject} is down",
            f"{metric} reports {what} {c.info.subject} unreachable, or its exporter cannot be "
            f"scraped, for {c.hold}.",
            query,
            scenarios,
            board="dependencies",
        )

    return build


def cache_hit_rate_low(c: _Ctx) -> AlertRule:
    w = f"[{c.window}]"
    hits = selector("cache_requests_total", job=c.job, result="hit")
    total = selector("cache_requests_total", job=c.job)
    query = f"sum by (cache) (rate({hits}{w})) / sum by (cache) (rate({total}{w}))"

    def make(ratio: Decimal, minutes: int) -> Made:
        base = {"job": c.job, "instance": c.instance, "cache": "default"}
        return (
            [
                counter(
                    selector("cache_requests_total", **base, result="hit"), 1000 * ratio, minutes
                ),
                counter(
                    selector("cache_requests_total", **base, result="miss"),
                    1000 * (1 - ratio),
                    minutes,
                ),
            ],
            {"cache": "default"},
            float(ratio),
        )

    return c.rule(
        f"{query} < {num(c.threshold)}",
        f"{c.spec.service}: cache {{{{ $labels.cache }}}} hit ratio is "
        f"{{{{ $value | humanizePercentage }}}}",
        f"Fewer than {_pct(c.threshold)} of cache lookups hit over the last {c.window}.",
        query,
        c.scenarios(make, above=False, settle=60, earliest=60),
        board="dependencies",
    )


def _labelled_gauge(
    metric: str, label: str, above: bool, summary: str, description: str
) -> Callable[[_Ctx], AlertRule]:
    def build(c: _Ctx) -> AlertRule:
        subject = c.info.subject
        threshold = c.threshold
        if c.info.name == "QuotaLow":
            threshold = next(q.low for q in c.spec.quota if q.name == subject)
            c.threshold = threshold
        query = selector(metric, job=c.job, **{label: subject})

        def make(value: Decimal, minutes: int) -> Made:
            labels = {"job": c.job, "instance": c.instance, label: subject}
            return [gauge(selector(metric, **labels), value, minutes)], labels, float(value)

        op = ">" if above else "<"
        return c.rule(
            f"{query} {op} {num(threshold)}",
            summary.format(s=c.spec.service, x=subject),
            description.format(t=num(threshold)),
            query,
            c.scenarios(make, above, settle=0),
        )

    return build


def quota_exhaustion(c: _Ctx) -> AlertRule:
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


def llm_cost(c: _Ctx) -> AlertRule:
    assert c.spec.llm is not None
    override = c.spec.alerts.override(c.info.name)
    c.threshold = (
        override.threshold if override.threshold is not None else c.spec.llm.budget_usd_per_hour
    )
    query = f"sum(increase({selector('llm_cost_usd_total', job=c.job)}[1h]))"

    def make(value: Decimal, minutes: int) -> Made:
        labels = {"job": c.job, "instance": c.instance, "model": "default"}
        return (
            [counter(selector("llm_cost_usd_total", **labels), value / 60, minutes)],
            {},
            float(value),
        )

    return c.rule(
        f"{query} > {num(c.threshold)}",
        f'{c.spec.service}: LLM spend is ${{{{ $value | printf "%.2f" }}}} per hour',
        f"The last hour cost more than the {num(c.threshold)} USD/hour budget.",
        query,
        c.scenarios(make, above=True, settle=3600, earliest=60),
        board="llm",
    )


def _traffic(above: bool) -> Callable[[_Ctx], AlertRule]:
    def build(c: _Ctx) -> AlertRule:
        window = c.spec.alerts.override(c.info.name).window or Duration(3600)
        total = selector(HTTP_COUNT, job=c.job)
        now = f"sum(rate({total}[{window}]))"
        then = f"sum(rate({total}[{window}] offset {c.offset}))"
        op = ">" if above else "<"
        word = "more" if above else "less"
        scenarios = _traffic_scenario(c.spec) if above or not _spike_enabled(c.spec) else ()
        return c.rule(
            f"{now} {op} {num(c.threshold)} * {then}",
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
    spike, drop = _Ctx(spec, _info(spec, "TrafficSpike")), _Ctx(spec, _info(spec, "TrafficDrop"))
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


_BUILDERS: dict[str, Callable[[_Ctx], AlertRule]] = {
    "HighErrorRate": high_error_rate,
    "HighLatencyP99": high_latency_p99,
    "ServiceDown": service_down,
    "HighCPU": high_cpu,
    "HighMemory": _gauge_alert(
        "system_memory_utilization_ratio",
        {},
        True,
        "{s}: host memory is {{{{ $value | humanizePercentage }}}} used",
        "Memory utilization is above {t}.",
    ),
    "DiskSpaceLow": _gauge_alert(
        "system_filesystem_utilization_ratio",
        {"mountpoint": "/"},
        True,
        "{s}: filesystem {{{{ $labels.mountpoint }}}} is {{{{ $value | humanizePercentage }}}} "
        "full",
        "A filesystem is fuller than {t}.",
    ),
    "HealthCheckFailing": health_check_failing,
    "DatabaseDown": _down_alert("pg_up", "PostgreSQL"),
    "RedisDown": _down_alert("redis_up", "Redis"),
    "ProbeFailing": _down_alert("probe_success", "endpoint"),
    "CacheHitRateLow": cache_hit_rate_low,
    "QueueBacklog": _labelled_gauge(
        "queue_depth",
        "queue",
        True,
        '{s}: queue {x} holds {{{{ $value | printf "%.4g" }}}} items',
        "More than {t} items wait in the queue.",
    ),
    "QuotaLow": _labelled_gauge(
        "quota_remaining",
        "quota",
        False,
        '{s}: quota {x} has {{{{ $value | printf "%.4g" }}}} left',
        "Fewer than {t} units of the quota remain.",
    ),
    "QuotaExhaustionPredicted": quota_exhaustion,
    "LLMCostOverBudget": llm_cost,
    "TrafficSpike": _traffic(above=True),
    "TrafficDrop": _traffic(above=False),
}


def builtin_alerts(spec: ServiceSpec) -> list[AlertRule]:
    return [
        _BUILDERS[info.name](_Ctx(spec, info))
        for info in alert_inventory(spec)
        if info.name in _BUILDERS
    ]


def custom_alerts(spec: ServiceSpec) -> list[AlertRule]:
    by_name = {c.name: c for c in spec.alerts.custom}
    out = []
    for info in alert_inventory(spec):
        custom = by_name.get(info.name)
        if custom is None or info.subject != "custom":
            continue
        hold = custom.hold or Duration(300)
        scenarios: tuple[Scenario, ...] = ()
        if custom.test is not None:
            at = (custom.test.at or Duration(hold.seconds + 600)).seconds
            scenarios = (
                Scenario(
                    "the given firing series",
                    tuple(Series(s.series, s.values) for s in custom.test.firing),
                    ((at, (Expected(),)),),
                ),
            )
            if custom.test.quiet:
                scenarios += (
                    Scenario(
                        "the given quiet series",
                        tuple(Series(s.series, s.values) for s in custom.test.quiet),
                        ((at, ()),),
                    ),
                )
        annotations = {
            "summary": custom.summary,
            "description": custom.description or custom.summary,
            "runbook_url": runbook_url(spec, custom.name, custom.runbook),
            "dashboard_url": dashboard_url(spec),
        }
        out.append(
            AlertRule(
                custom.name,
                custom.expr.strip(),
                hold,
                dict(info.labels),
                annotations,
                scenarios,
                custom.expr.strip(),
                count_test=True,
            )
        )
    return out
