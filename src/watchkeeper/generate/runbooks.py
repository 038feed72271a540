"""One Markdown runbook per alert name: symptoms, the query, likely causes, diagnosis,
resolution and escalation. Alerts link here through ``runbook_url``."""

from __future__ import annotations

from watchkeeper.generate.artifact import Artifact, header
from watchkeeper.generate.links import dashboard_url
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
        f"1. Open the dashboard: {dashboard_url(spec)}",
        "2. Check recent deploys and configuration changes.",
        "3. Read the service's logs around the alert's start (filter by request id).",
        "4. Check the dependencies dashboard for a failing database, cache or upstream.",
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
