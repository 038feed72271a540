"""One Markdown runbook per alert name: symptoms, the query, likely causes, diagnosis,
resolution and escalation. Alerts link here through ``runbook_url``."""

from __future__ import annotations

from watchkeeper.generate.artifact import Artifact, header
from watchkeeper.generate.rules import AlertRule
from watchkeeper.spec.model import ServiceSpec

__all__ = ["runbook_artifacts"]

_CAUSES: dict[str, tuple[str, ...]] = {
    "HighErrorRate": (
        "a bad deploy",
        "a failing dependency (database, cache, upstream API)",
        "resource exhaustion",
    ),
    "HighLatencyP99": (
        "slow database queries",
        "a saturated worker pool or event loop",
        "a slow upstream API",
    ),
    "ServiceDown": (
        "the process crashed or is restarting",
        "the scrape target moved (service discovery)",
        "a network policy blocks scraping",
    ),
    "HighCPU": (
        "a hot loop or an expensive endpoint",
        "traffic growth",
        "CPU-bound work on the request path",
    ),
    "HighMemory": ("a memory leak", "unbounded caches", "large payloads"),
    "DiskSpaceLow": ("logs not rotated", "temporary files left behind", "data growth"),
    "SLOErrorBudgetBurn": (
        "errors or slow responses at a rate that spends the error budget early",
        "a partial outage of one route or dependency",
    ),
    "DatabaseDown": (
        "PostgreSQL stopped or failed over",
        "credentials rotated",
        "connection limit reached",
    ),
    "RedisDown": ("Redis stopped or evicted", "memory limit reached", "network partition"),
    "ProbeFailing": ("the endpoint is down", "TLS certificate expired", "DNS failure"),
    "CacheHitRateLow": (
        "a cold cache after a restart",
        "keys expiring too early",
        "a changed key scheme",
    ),
    "QueueBacklog": ("consumers down or too few", "a poison message", "a traffic burst"),
    "QuotaLow": ("usage grew", "a retry storm", "the quota was lowered"),
    "QuotaExhaustionPredicted": ("usage grew", "a retry storm"),
    "LLMCostOverBudget": (
        "a prompt grew",
        "a loop calling the model",
        "a more expensive model in use",
    ),
    "TrafficSpike": ("a marketing event", "a client retry storm", "abuse or a DDoS"),
    "TrafficDrop": (
        "an upstream outage (DNS, load balancer, CDN)",
        "a client release that broke calls",
        "routing changes",
    ),
    "HealthCheckFailing": ("the checked dependency is down", "the check's timeout is too tight"),
}


_GENERIC = (
    "Check recent deploys and configuration changes.",
    "Read the service's logs around the alert's start (filter by request id).",
    "Check the dependencies dashboard for a failing database, cache or upstream.",
)
_DIAGNOSIS: dict[str, tuple[str, ...]] = {
    "HighErrorRate": (
        "Split errors by route: `sum by (http_route, http_response_status_code) (rate("
        'http_server_request_duration_seconds_count{http_response_status_code=~"5.."}[5m]))`.',
        "Read the error logs of the worst route (`error_type` label names the exception).",
        *_GENERIC[:1],
    ),
    "HighLatencyP99": (
        "Find the slow route: p99 `by (http_route, le)` on the latency panel.",
        "Check DB operation p99 and connection usage on the dependencies dashboard.",
        "Check event loop lag (`asyncio_event_loop_lag_seconds`) for blocking calls.",
    ),
    "ServiceDown": (
        "Is the process running? `kubectl get pods` / `systemctl status`.",
        "Open the target's /metrics yourself; check Prometheus' Targets page for the error.",
        "Read the last logs before the crash (OOM kills show in the kernel log).",
    ),
    "SLOErrorBudgetBurn": (
        "Read the `slo` and `long_window` labels: which objective, how fast.",
        "Open the SLO dashboard: burn rate per window shows whether it is still burning.",
        "Find the failing routes or dependency as for HighErrorRate / HighLatencyP99.",
    ),
    "DatabaseDown": (
        "Can the exporter reach the database? Check its logs and `pg_up`.",
        "Check PostgreSQL's own logs, disk space and connection count.",
    ),
    "RedisDown": ("Check redis_exporter's logs and `redis-cli ping` from its host.",),
    "QueueBacklog": (
        "Are consumers running and consuming? Compare queue depth with the oldest age.",
    ),
    "LLMCostOverBudget": (
        "Which model? `sum by (model) (increase(llm_cost_usd_total[1h]))`.",
        "Tokens per request: `sum by (model, kind) (rate(llm_tokens_total[5m]))`.",
    ),
}


def _runbook(spec: ServiceSpec, source: str, rules: list[AlertRule]) -> str:
    rule = rules[0]
    name = rule.name
    causes = _CAUSES.get(name, ("see the alert's description",))
    lines = [
        f"<!-- {header(source)} -->",
        f"# {name}",
        "",
        f"Service **{spec.service}**" + (f", team **{spec.team}**" if spec.team else "") + ".",
        "",
        "## Symptoms",
        "",
        f"- {rule.annotations['summary']}",
        f"- {rule.annotations['description']}",
        f"- Severity: {', '.join(sorted({r.labels['severity'] for r in rules}))}",
        "",
        "## The query",
        "",
    ]
    for r in rules:
        lines += ["```promql", r.expr.strip(), "```", ""]
    lines += ["## Likely causes", ""] + [f"- {c}" for c in causes]
    lines += [
        "",
        "## Diagnosis",
        "",
        f"1. Open the dashboard: {rule.annotations['dashboard_url']}",
        *[f"{n}. {step}" for n, step in enumerate(_DIAGNOSIS.get(name, _GENERIC), start=2)],
        "",
        "## Resolution",
        "",
        "- Roll back a bad deploy; restart a hung process; scale out for load.",
        "- Fix the cause, then watch the query above return to normal.",
        "",
        "## Escalation",
        "",
        f"- Owner: {spec.team or 'the service owners'}. Page them if the alert is critical and "
        "not improving within 15 minutes.",
        "",
    ]
    return "\n".join(lines)


def runbook_artifacts(spec: ServiceSpec, source: str, alerts: list[AlertRule]) -> list[Artifact]:
    by_name: dict[str, list[AlertRule]] = {}
    for alert in alerts:
        by_name.setdefault(alert.name, []).append(alert)
    return [
        Artifact(f"runbooks/{name}.md", _runbook(spec, source, rules))
        for name, rules in sorted(by_name.items())
    ]
