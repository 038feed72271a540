"""The overview: one card per service with its current golden signals and sparklines.

Every number comes from a per-job aggregate (``queries.by_job``), so the page runs
the same dozen queries for 1 service or 50, and the sparklines are three range
queries split by job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from watchkeeper.monitor.promql.value import Matrix
from watchkeeper.monitor.web.console.charts import to_chart
from watchkeeper.monitor.web.console.context import ConsoleContext
from watchkeeper.monitor.web.console.queries import by_job
from watchkeeper.monitor.web.console.runner import Runner
from watchkeeper.monitor.web.console.slo import slo_status
from watchkeeper.monitor.web.console.timerange import View

__all__ = ["Card", "SPARK_POINTS", "build_overview"]

SPARK_POINTS = 120  # sparklines are ~240 px wide: one point per 2 px
CURRENT = "5m"  # the window of the "now" numbers, as on the generated dashboards


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


def _split(matrix: Matrix) -> dict[str, Matrix]:
    out: dict[str, Matrix] = {}
    for s in matrix.series:
        out.setdefault(dict(s.labels).get("job", ""), Matrix()).series.append(s)
    return out


def build_overview(ctx: ConsoleContext, runner: Runner, view: View) -> list[Card]:
    services = ctx.services()
    at = view.end_ms
    up = runner.by(by_job.up(), at, "job")
    values = {
        "rps": runner.by(by_job.rps(CURRENT), at, "job"),
        "error_ratio": runner.by(by_job.error_ratio(CURRENT), at, "job"),
        "p50": runner.by(by_job.quantile(0.5, CURRENT), at, "job"),
        "p95": runner.by(by_job.quantile(0.95, CURRENT), at, "job"),
        "p99": runner.by(by_job.quantile(0.99, CURRENT), at, "job"),
        "cpu": runner.by(by_job.cpu(CURRENT), at, "job"),
        "memory": runner.by(by_job.memory(), at, "job"),
    }
    step = view.step_ms(SPARK_POINTS)
    start, end = view.aligned(step)
    w = view.rate_window(step)
    sparks = {
        "rps": (_split(runner.matrix(by_job.rps(w), start, end, step)), "reqps"),
        "errors": (_split(runner.matrix(by_job.error_ratio(w), start, end, step)), "%"),
        "p99": (_split(runner.matrix(by_job.quantile(0.99, w), start, end, step)), "s"),
    }
    cards = []
    for name in services:
        card = Card(name, None if name not in up else up[name] >= 1)
        for key, by_service in values.items():
            setattr(card, key, by_service.get(name))
        for key, (matrices, unit) in sparks.items():
            chart = to_chart(key, matrices.get(name, Matrix()), start, end, step, unit=unit)
            card.sparks[key] = chart.to_json()
        spec = ctx.spec_of(name)
        if spec is not None:
            for slo in spec.slos:
                status = slo_status(runner, spec, slo, view, chart=False, burns=False)
                left = status.budget_remaining
                if left is not None and (card.budget is None or left < card.budget):
                    card.budget, card.budget_slo = left, slo.name
        cards.append(card)
    return cards
