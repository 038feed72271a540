"""Alerts on what the service depends on: databases, Redis, probed endpoints, caches
and queues, written for the real exporters' metric names (pg_up, redis_up,
probe_success)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from watchkeeper.generate.alert_context import AlertContext, Made, exporter_job, pct
from watchkeeper.generate.promql import num, selector
from watchkeeper.generate.rules import AlertRule, Expected, Scenario
from watchkeeper.generate.scenarios import counter, gauge

__all__ = ["cache_hit_rate_low", "down_alert", "labelled_gauge"]


def down_alert(metric: str, what: str) -> Callable[[AlertContext], AlertRule]:
    def build(c: AlertContext) -> AlertRule:
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


def cache_hit_rate_low(c: AlertContext) -> AlertRule:
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
        f"Fewer than {pct(c.threshold)} of cache lookups hit over the last {c.window}.",
        query,
        c.scenarios(make, above=False, settle=60, earliest=60),
        board="dependencies",
    )


def labelled_gauge(
    metric: str, label: str, above: bool, summary: str, description: str, board: str
) -> Callable[[AlertContext], AlertRule]:
    """A gauge of one named thing (a queue, a quota) against a threshold."""

    def build(c: AlertContext) -> AlertRule:
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
            board=board,
        )

    return build
