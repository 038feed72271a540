"""The PromQL behind every console panel, built from the SDK's metric names.

Pure functions of (service, rate window): the same text the Grafana dashboards from
``watchkeeper generate`` run, so a number in the console and on Grafana agree. A
service is its scrape ``job`` (the spec's ``service`` is the job name).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = [
    "HTTP",
    "LATENCY_PANEL",
    "by_job",
    "job_selector",
    "quote",
    "recorded_quantile_name",
    "recorded_quantiles",
    "service_panels",
]

HTTP = "http_server_request_duration_seconds"
LATENCY_PANEL = "Latency p50 / p95 / p99"
ERROR_CODES = "5.."


def quote(value: str) -> str:
    """A PromQL string literal (label values are user data: escape, never splice)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def job_selector(metric: str, job: str, extra: str = "") -> str:
    inner = f"job={quote(job)}" + (f", {extra}" if extra else "")
    return f"{metric}{{{inner}}}"


def _jobs(jobs: Sequence[str]) -> str:
    """A ``job=~"a|b"`` matcher for ``jobs`` (empty: no matcher, every job)."""
    if not jobs:
        return ""
    return f"job=~{quote('|'.join(re.escape(j) for j in jobs))}"


def _sel(metric: str, *matchers: str) -> str:
    inner = ", ".join(m for m in matchers if m)
    return f"{metric}{{{inner}}}" if inner else metric


class by_job:
    """Per-job aggregates for the overview: one query answers every service at once;
    ``jobs`` narrows one to the services the recorded rules do not cover."""

    @staticmethod
    def up() -> str:
        return "max by (job) (up)"

    @staticmethod
    def rps(w: str, jobs: Sequence[str] = ()) -> str:
        return f"sum by (job) (rate({_sel(HTTP + '_count', _jobs(jobs))}[{w}]))"

    @staticmethod
    def errors(w: str, jobs: Sequence[str] = ()) -> str:
        bad = _sel(f"{HTTP}_count", f'http_response_status_code=~"{ERROR_CODES}"', _jobs(jobs))
        return f"sum by (job) (rate({bad}[{w}]))"

    @staticmethod
    def buckets(w: str, jobs: Sequence[str] = ()) -> str:
        return f"sum by (job, le) (rate({_sel(HTTP + '_bucket', _jobs(jobs))}[{w}]))"

    @staticmethod
    def buckets_by_status(w: str, jobs: Sequence[str] = ()) -> str:
        """Bucket rates by job, bound and status code: requests, errors and quantiles of
        the overview's cards from one read of the histogram."""
        inner = _sel(HTTP + "_bucket", _jobs(jobs))
        return f"sum by (job, le, http_response_status_code) (rate({inner}[{w}]))"

    @staticmethod
    def cpu(w: str) -> str:
        return f"sum by (job) (rate(process_cpu_seconds_total[{w}]))"

    @staticmethod
    def memory() -> str:
        return "sum by (job) (process_resident_memory_bytes)"

    # The generated recording rules (generate/golden.py, generate/slo.py): one series
    # per service instead of one per route, method, status (and bucket).

    @staticmethod
    def recorded_rps() -> str:
        return "service:http_server_requests:rate5m"

    @staticmethod
    def recorded_error_ratio() -> str:
        return "service:http_server_request_errors:ratio_rate5m"

    @staticmethod
    def recorded_quantile(name: str) -> str:
        return recorded_quantile_name(name)

    @staticmethod
    def recorded_budget() -> str:
        # Evaluated every 5m: look back two evaluations.
        return "last_over_time(slo:error_budget_remaining:ratio[10m])"


def recorded_quantile_name(name: str) -> str:
    """The generated recording rule of quantile ``name`` (p50, p95, p99)."""
    return f"service:{HTTP}:{name}_rate5m"


def recorded_quantiles(job: str) -> str:
    """p50/p95/p99 of one service from the generated recording rules, labelled ``q``."""
    parts = [
        f'label_replace({by_job.recorded_quantile(q)}{{job={quote(job)}}}, "q", "{q}", "", "")'
        for q in ("p50", "p95", "p99")
    ]
    return " or ".join(parts)


def service_panels(job: str, w: str) -> list[tuple[str, str, str, str]]:
    """(section, title, unit, expr) of the service page's charts, in order.

    Sections without data (no database, no LLM) are left out by the page.
    """
    http = job_selector(f"{HTTP}_count", job)
    bucket = job_selector(f"{HTTP}_bucket", job)
    errors = job_selector(f"{HTTP}_count", job, 'http_response_status_code=~"[45].."')
    j = quote(job)
    db = job_selector("db_client_operation_duration_seconds_bucket", job)
    db_count = job_selector("db_client_operation_duration_seconds_count", job)
    return [
        ("golden", "Traffic by route", "reqps", f"sum by (http_route) (rate({http}[{w}]))"),
        (
            "golden",
            "Errors by status class",
            "reqps",
            f'sum by (class) (label_replace(rate({errors}[{w}]), "class", "${{1}}xx", '
            f'"http_response_status_code", "([0-9])..")) ',
        ),
        # Bucket rates: the page derives p50/p95/p99 from them (``quantiles.py``).
        ("golden", LATENCY_PANEL, "s", f"sum by (le) (rate({bucket}[{w}]))"),
        (
            "golden",
            "Active requests",
            "",
            f"sum({job_selector('http_server_active_requests', job)})",
        ),
        (
            "saturation",
            "CPU (cores)",
            "",
            f"sum(rate({job_selector('process_cpu_seconds_total', job)}[{w}]))",
        ),
        (
            "saturation",
            "Resident memory",
            "B",
            f"sum({job_selector('process_resident_memory_bytes', job)})",
        ),
        (
            "saturation",
            "Event loop lag",
            "s",
            f"max({job_selector('asyncio_event_loop_lag_seconds', job)})",
        ),
        (
            "dependencies",
            "Database operations",
            "reqps",
            f"sum by (db_operation_name) (rate({db_count}[{w}]))",
        ),
        (
            "dependencies",
            "Database p99",
            "s",
            f"histogram_quantile(0.99, sum by (le) (rate({db}[{w}])))",
        ),
        (
            "dependencies",
            "Cache hit ratio",
            "%",
            f'sum by (cache) (rate(cache_requests_total{{job={j}, result="hit"}}[{w}]))'
            f" / sum by (cache) (rate(cache_requests_total{{job={j}}}[{w}]))",
        ),
        ("dependencies", "Queue depth", "", f"sum by (queue) (queue_depth{{job={j}}})"),
        (
            "dependencies",
            "Queue oldest item age",
            "s",
            f"max by (queue) (queue_oldest_age_seconds{{job={j}}})",
        ),
        (
            "llm",
            "LLM tokens by model and kind",
            "",
            f"sum by (model, kind) (rate(llm_tokens_total{{job={j}}}[{w}]))",
        ),
        (
            "llm",
            "LLM cost (USD per hour)",
            "$",
            f"sum by (model) (rate(llm_cost_usd_total{{job={j}}}[{w}])) * 3600",
        ),
    ]


def top_routes(job: str, window: str, k: int = 10) -> list[tuple[str, str, str]]:
    """(title, unit, expr) of the top-routes tables over the whole time range."""
    http = job_selector(f"{HTTP}_count", job)
    bad = job_selector(f"{HTTP}_count", job, f'http_response_status_code=~"{ERROR_CODES}"')
    bucket = job_selector(f"{HTTP}_bucket", job)
    return [
        ("By traffic", "reqps", f"topk({k}, sum by (http_route) (rate({http}[{window}])))"),
        ("By errors", "reqps", f"topk({k}, sum by (http_route) (rate({bad}[{window}])) > 0)"),
        (
            "By p99 latency",
            "s",
            f"topk({k}, histogram_quantile(0.99, "
            f"sum by (http_route, le) (rate({bucket}[{window}]))))",
        ),
    ]
