"""The service page: golden-signal charts, saturation, dependencies, LLM use, top
routes, and the health checks the service reports on ``/health/detailed``.

Charts are range queries at one point per pixel (``View.step_ms``); a section whose
queries find nothing (no database, no LLM) is left out rather than drawn empty.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson

from watchkeeper.monitor.model import Labels
from watchkeeper.monitor.web.console.charts import Chart, series_label, to_chart
from watchkeeper.monitor.web.console.context import ConsoleContext
from watchkeeper.monitor.web.console.quantiles import quantiles_from_buckets
from watchkeeper.monitor.web.console.queries import (
    LATENCY_PANEL,
    recorded_quantile_name,
    recorded_quantiles,
    service_panels,
    top_routes,
)
from watchkeeper.monitor.web.console.runner import Runner
from watchkeeper.monitor.web.console.timerange import View

__all__ = ["HealthReport", "ServicePage", "build_service", "fetch_health"]

SECTIONS = {
    "golden": "Golden signals",
    "saturation": "Saturation",
    "dependencies": "Dependencies",
    "llm": "LLM",
}
HEALTH_TIMEOUT_S = 2.0
TOP_WINDOW_MS = 3_600_000
MAX_HEALTH_BYTES = 256 << 10


@dataclass
class ServicePage:
    service: str
    sections: list[tuple[str, list[Chart]]] = field(default_factory=list)
    tops: list[tuple[str, str, list[tuple[str, float]]]] = field(default_factory=list)
    known: bool = True

    def charts_json(self) -> list[dict[str, Any]]:
        return [c.to_json() for _, charts in self.sections for c in charts]


@dataclass
class HealthReport:
    url: str
    status: str = ""  # healthy / degraded / unhealthy, from the service
    checks: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""


def build_service(ctx: ConsoleContext, runner: Runner, view: View, service: str) -> ServicePage:
    page = ServicePage(service, known=service in ctx.services())
    # A point per 2 px (the same line, half the work), and none closer than the scrapes.
    step = view.step_ms(view.width // 2, ctx.scrape_interval_ms())
    start, end = view.aligned(step)
    w = view.rate_window(step)
    by_section: dict[str, list[Chart]] = {}
    for section, title, unit, expr in service_panels(service, w):
        at = (start, end, step)
        if title == LATENCY_PANEL:
            # The recorded quantiles when the rules engine has them for this range, at
            # their own resolution (one point per evaluation, nothing in between); else
            # the bucket rates, read once for all three quantiles.
            r_step = max(step, ctx.rule_interval_ms(recorded_quantile_name("p99")))
            r_start, r_end = view.aligned(r_step)
            matrix = runner.matrix(recorded_quantiles(service), r_start, r_end, r_step)
            if matrix.series and len(matrix.series[0].points) * 2 >= (
                (r_end - r_start) // r_step + 1
            ):
                at = (r_start, r_end, r_step)
            else:
                matrix = quantiles_from_buckets(
                    runner.matrix(expr, start, end, step), start, end, step
                )
        else:
            matrix = runner.matrix(expr, start, end, step)
        label = _q_label if title == LATENCY_PANEL else series_label
        chart = to_chart(title, matrix, *at, unit=unit, label=label)
        chart.error = runner.last_error(expr)
        # Golden signals always show (an empty traffic chart is news); others only with data.
        if section == "golden" or not chart.empty or chart.error:
            by_section.setdefault(section, []).append(chart)
    page.sections = [(SECTIONS[k], v) for k, v in by_section.items()]
    # Over the range, at most the last hour: a day of per-route buckets is a lot to
    # read for a ranking, and "top now" is what the table is for.
    window = f"{min(view.range_ms, TOP_WINDOW_MS) // 1000}s"
    for title, unit, expr in top_routes(service, window):
        rows = [
            (dict(labels).get("http_route", ""), v)
            for labels, v in runner.vector(expr, view.end_ms)
            if math.isfinite(v)
        ]
        rows.sort(key=lambda r: -r[1])
        page.tops.append((title, unit, rows))
    return page


def _q_label(labels: Labels) -> str:
    return dict(labels).get("q", "")


def health_url(scrape_url: str) -> str:
    """The ``/health/detailed`` next to a target's metrics endpoint."""
    parts = urlsplit(scrape_url)
    return urlunsplit((parts.scheme, parts.netloc, "/health/detailed", "", ""))


async def fetch_health(ctx: ConsoleContext, service: str) -> list[HealthReport]:
    """Each scrape target's detailed health report (bounded size and time)."""
    reports = []
    urls = sorted({health_url(t.url) for t in ctx.scrape_targets() if t.job == service})
    if not urls:
        return []
    async with httpx.AsyncClient(timeout=HEALTH_TIMEOUT_S, follow_redirects=False) as client:
        for url in urls[:10]:
            report = HealthReport(url)
            try:
                response = await client.get(url, headers={"accept": "application/json"})
                body = response.content[:MAX_HEALTH_BYTES]
                if response.status_code in (401, 403):
                    report.error = (
                        f"HTTP {response.status_code}: the report needs the service's health token"
                    )
                elif response.status_code == 404:
                    report.error = "HTTP 404: the service serves no /health/detailed"
                else:
                    _read_report(report, orjson.loads(body))
            except (httpx.HTTPError, orjson.JSONDecodeError) as exc:
                report.error = f"{type(exc).__name__}: {exc}"
            reports.append(report)
    return reports


def _read_report(report: HealthReport, data: Any) -> None:
    if not isinstance(data, dict):
        report.error = "unexpected report (not a JSON object)"
        return
    report.status = str(data.get("status", ""))
    checks = data.get("checks")
    if isinstance(checks, dict):
        for name, check in sorted(checks.items()):
            if isinstance(check, dict):
                report.checks.append(
                    {
                        "name": str(name),
                        "status": str(check.get("status", "")),
                        "critical": bool(check.get("critical", False)),
                        "duration_ms": check.get("duration_ms"),
                        "error": str(check.get("error") or ""),
                    }
                )
