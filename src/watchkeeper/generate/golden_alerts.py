"""Golden-signal and saturation alerts: errors, latency, availability of the service,
CPU, memory, disk and health checks. Thresholds default to the guides' numbers."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from watchkeeper.generate.alert_context import AlertContext, Made, pct
from watchkeeper.generate.promql import HTTP_BUCKET, HTTP_COUNT, go_float, num, selector
from watchkeeper.generate.rules import AlertRule, Expected, Scenario, Series
from watchkeeper.generate.scenarios import counter, gauge

__all__ = [
    "gauge_alert",
    "health_check_failing",
    "high_cpu",
    "high_error_rate",
    "high_latency_p99",
    "service_down",
]


def high_error_rate(c: AlertContext) -> AlertRule:
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
        f"More than {pct(c.threshold)} of requests to {c.spec.service} answered 5xx over the "
        f"last {c.window}.",
        query,
        c.scenarios(make, above=True, settle=60, earliest=60),
    )


def high_latency_p99(c: AlertContext) -> AlertRule:
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


def service_down(c: AlertContext) -> AlertRule:
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


def gauge_alert(
    metric: str, extra: dict[str, str], above: bool, summary: str, description: str
) -> Callable[[AlertContext], AlertRule]:
    def build(c: AlertContext) -> AlertRule:
        query = selector(metric, job=c.job)
        op = ">" if above else "<"

        def make(value: Decimal, minutes: int) -> Made:
            labels = {"job": c.job, "instance": c.instance, **extra}
            return [gauge(selector(metric, **labels), value, minutes)], labels, float(value)

        return c.rule(
            f"{query} {op} {num(c.threshold)}",
            summary.format(s=c.spec.service),
            description.format(t=pct(c.threshold)),
            query,
            c.scenarios(make, above, settle=0),
        )

    return build


def high_cpu(c: AlertContext) -> AlertRule:
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
        f"The process uses more than {pct(c.threshold)} of one core (Python's GIL makes one core "
        "its ceiling for most work).",
        query,
        c.scenarios(make, above=True, settle=c.window.seconds, earliest=60),
    )


def health_check_failing(c: AlertContext) -> AlertRule:
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
