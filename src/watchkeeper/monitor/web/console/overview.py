"""The overview: one card per service with its current golden signals and sparklines.

A few range queries answer every service at once (per-job aggregates over a fixed 5m
window, like the generated dashboards): request rate, 5xx rate and latency
quantiles. The sparklines are those series; the card's "now" numbers are their last
points (the range ends now).

The latency histogram's buckets are most of the data (one series per route, method,
status and bucket), so quantiles come from the generated recording rules
(``service:http_server_request_duration_seconds:p99_rate5m`` ...) wherever the rules
engine has recorded them, the numbers the dashboards and alerts read; only services
without them (no spec, or data from before the rules ran) have their bucket rates
read, once, with p50/p95/p99 derived through the engine's ``histogram_quantile``
(``quantiles.py``). SLO budgets likewise prefer ``slo:error_budget_remaining:ratio``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from watchkeeper.monitor.model import Labels
from watchkeeper.monitor.promql.value import Matrix, Series
from watchkeeper.monitor.web.console.charts import to_chart
from watchkeeper.monitor.web.console.context import ConsoleContext
from watchkeeper.monitor.web.console.quantiles import QUANTILES, quantiles_from_buckets
from watchkeeper.monitor.web.console.queries import by_job
from watchkeeper.monitor.web.console.runner import Runner
from watchkeeper.monitor.web.console.slo import slo_status
from watchkeeper.monitor.web.console.timerange import View

__all__ = ["Card", "SPARK_POINTS", "build_overview"]

SPARK_POINTS = 120  # sparklines are ~120-240 px wide
WINDOW = "5m"  # the rate window of every number on the card, as on the dashboards


@dataclass
class Card:
    service: str
    up: bool | None  # None: no scrape target and no `up` series
    rps: float | None = None
    error_ratio: float | None = None
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    cpu: float | None = None
    memory: float | None = None
    budget: float | None = None  # lowest budget left among its SLOs
    budget_slo: str = ""
    sparks: dict[str, Any] = field(default_factory=dict)  # name -> uPlot data


def _by(matrix: Matrix, label: str = "job") -> dict[str, Series]:
    out: dict[str, Series] = {}
    for s in matrix.series:
        out[dict(s.labels).get(label, "")] = s
    return out


def _last(series: Series | None, end_ms: int, step_ms: int) -> float | None:
    """The value at the last step (the instant value now), if the series has one."""
    if series is None or not series.points:
        return None
    t, v = series.points[-1]
    return v if t > end_ms - step_ms and math.isfinite(v) else None


def _ratio(bad: Series | None, total: Series | None) -> Series | None:
    """5xx / all per step; no 5xx series with traffic means 0, not "no data"."""
    if total is None:
        return None
    errors = dict(bad.points) if bad is not None else {}
    points = [(t, errors.get(t, 0.0) / v) for t, v in total.points if v > 0]
    return Series(total.labels, points)


def _split_buckets(
    raw: Matrix, start: int, end: int, step: int
) -> tuple[dict[str, Series], dict[str, Series], Matrix]:
    """Bucket rates by (job, le, status code) -> per job the request rate (+Inf), the
    5xx rate (+Inf of 5xx codes), and the bucket rates by (job, le), summed like PromQL's
    ``sum by`` (a point where any input series has one)."""
    n = (end - start) // step + 1
    groups: dict[tuple[str, str], int] = {}  # (job, le) -> row
    bad_jobs: dict[str, int] = {}  # job -> row of its 5xx +Inf sum
    rows, bad_rows, lengths = [], [], []
    for s in raw.series:
        labels = dict(s.labels)
        job, le = labels.get("job", ""), labels.get("le", "")
        code = labels.get("http_response_status_code", "")
        rows.append(groups.setdefault((job, le), len(groups)))
        is_bad = le == "+Inf" and len(code) == 3 and code[0] == "5"
        bad_rows.append(bad_jobs.setdefault(job, len(bad_jobs)) if is_bad else -1)
        lengths.append(len(s.points))
    times = start + np.arange(n, dtype=np.int64) * step
    if not sum(lengths):
        return {}, {}, Matrix()
    pts = np.array([p for s in raw.series for p in s.points], dtype=np.float64)
    idx = np.rint((pts[:, 0] - start) / step).astype(np.int64)
    row = np.repeat(np.asarray(rows, dtype=np.int64), lengths)
    bad = np.repeat(np.asarray(bad_rows, dtype=np.int64), lengths)
    ok = (idx >= 0) & (idx < n)

    def summed(row_of: np.ndarray, keep: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        flat = row_of[keep] * n + idx[keep]
        total = np.bincount(flat, weights=pts[keep, 1], minlength=count * n)
        seen = np.bincount(flat, minlength=count * n) > 0
        return total.reshape(count, n), seen.reshape(count, n)

    def series(labels: Labels, values: np.ndarray, present: np.ndarray) -> Series:
        at = np.nonzero(present)[0]
        return Series(labels, list(zip(times[at].tolist(), values[at].tolist(), strict=True)))

    values, present = summed(row, ok, len(groups))
    rps: dict[str, Series] = {}
    buckets = Matrix()
    for (job, le), r in sorted(groups.items()):
        buckets.series.append(series((("job", job), ("le", le)), values[r], present[r]))
        if le == "+Inf":
            rps[job] = series((("job", job),), values[r], present[r])
    bad_values, bad_present = summed(bad, ok & (bad >= 0), len(bad_jobs))
    errors = {
        job: series((("job", job),), bad_values[r], bad_present[r]) for job, r in bad_jobs.items()
    }
    return rps, errors, buckets


def _named(name: str) -> Callable[[Labels], str]:
    return lambda _: name


def build_overview(ctx: ConsoleContext, runner: Runner, view: View) -> list[Card]:
    services = ctx.services()
    # Never finer than the recording rules' evaluations (a point per minute by
    # default): the recorded series have nothing in between, and a 1 h sparkline of 60
    # points is as good as 120. The raw fallback shares the step (one grid per card).
    floor = max(ctx.scrape_interval_ms(), ctx.rule_interval_ms(by_job.recorded_rps()))
    step = view.step_ms(SPARK_POINTS, floor)
    # Ends now (not on a step boundary): the last point is the current value.
    end = view.end_ms
    start = end - (view.range_ms // step) * step
    steps = view.range_ms // step + 1

    def fetch(expr: str) -> dict[str, Series]:
        return _by(runner.matrix(expr, start, end, step))

    def uncovered(recorded: dict[str, Series]) -> list[str]:
        """Services whose recorded series miss more than half of the range."""
        return [n for n in services if len(getattr(recorded.get(n), "points", ())) * 2 < steps]

    total = fetch(by_job.recorded_rps())
    ratios = fetch(by_job.recorded_error_ratio())
    by_q = {q: fetch(by_job.recorded_quantile(q)) for q in QUANTILES}
    gaps = {"rps": uncovered(total), "ratio": uncovered(ratios), "q": uncovered(by_q["p99"])}
    if need := sorted({name for names in gaps.values() for name in names}):
        # One read of the bucket rates answers all three for these services: the
        # +Inf bucket counts every request (the histogram's _count), its 5xx part the
        # errors, and the buckets summed over status codes give the quantiles.
        raw = runner.matrix(by_job.buckets_by_status(WINDOW, need), start, end, step)
        rps, errors, buckets = _split_buckets(raw, start, end, step)
        total.update((name, rps[name]) for name in gaps["rps"] if name in rps)
        for name in gaps["ratio"]:
            if (computed := _ratio(errors.get(name), rps.get(name))) is not None:
                ratios[name] = computed
        mine = Matrix([s for s in buckets.series if dict(s.labels)["job"] in gaps["q"]])
        for s in quantiles_from_buckets(mine, start, end, step).series:
            labels = dict(s.labels)
            by_q[labels["q"]][labels.get("job", "")] = s
    budgets: dict[tuple[str, str], float] = {}
    for pairs, value in runner.vector(by_job.recorded_budget(), end):
        names = dict(pairs)
        if math.isfinite(value):
            budgets[(names.get("service", ""), names.get("slo", ""))] = value
    up = runner.by(by_job.up(), end, "job")
    cpu = runner.by(by_job.cpu(WINDOW), end, "job")
    memory = runner.by(by_job.memory(), end, "job")
    cards = []
    for name in services:
        ratio = ratios.get(name)
        card = Card(
            name,
            None if name not in up else up[name] >= 1,
            rps=_last(total.get(name), end, step),
            error_ratio=_last(ratio, end, step),
            p50=_last(by_q["p50"].get(name), end, step),
            p95=_last(by_q["p95"].get(name), end, step),
            p99=_last(by_q["p99"].get(name), end, step),
            cpu=cpu.get(name),
            memory=memory.get(name),
        )
        for key, series, unit in (
            ("rps", total.get(name), "reqps"),
            ("errors", ratio, "%"),
            ("p99", by_q["p99"].get(name), "s"),
        ):
            matrix = Matrix([series] if series is not None else [])
            chart = to_chart(key, matrix, start, end, step, unit=unit, label=_named(name))
            card.sparks[key] = chart.to_json()
        spec = ctx.spec_of(name)
        if spec is not None:
            for slo in spec.slos:
                left = budgets.get((name, slo.name))
                if left is None:
                    status = slo_status(runner, spec, slo, view, chart=False, burns=False)
                    left = status.budget_remaining
                if left is not None and (card.budget is None or left < card.budget):
                    card.budget, card.budget_slo = left, slo.name
        cards.append(card)
    return cards
