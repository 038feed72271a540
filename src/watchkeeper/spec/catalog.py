"""The built-in alerts: names, defaults, and the labels each one is guaranteed to carry.

This table is the single source both the spec's validation (overrides, inhibitions'
``equal`` labels) and the generators read, so a rule can never carry fewer labels
than the checks assumed.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

__all__ = [
    "BUILTIN_ALERTS",
    "HTTP_BUCKETS",
    "SLO_ALERT",
    "BuiltinAlert",
    "Severity",
]

Severity = Literal["critical", "warning", "info"]

# The SDK's http_server_request_duration_seconds buckets (OpenTelemetry's advice).
HTTP_BUCKETS: tuple[Decimal, ...] = tuple(
    Decimal(b)
    for b in (
        "0.005",
        "0.01",
        "0.025",
        "0.05",
        "0.075",
        "0.1",
        "0.25",
        "0.5",
        "0.75",
        "1",
        "2.5",
        "5",
        "7.5",
        "10",
    )
)

# Every SLO burn-rate alert shares one name; slo/burn_tier/long_window tell them apart.
SLO_ALERT = "SLOErrorBudgetBurn"


@dataclass(frozen=True)
class BuiltinAlert:
    """One default alert.

    ``requires`` names the spec section that switches it on (``None``: always on);
    ``carried`` are labels the expression itself keeps on every result series, on top
    of the static ``severity``/``service``/spec labels every alert has.
    """

    name: str
    threshold: Decimal | None
    hold: str
    severity: Severity
    summary: str
    requires: Literal["postgres", "redis", "http", "queue", "quota", "llm"] | None
    carried: frozenset[str] = frozenset()
    unit: str = ""


BUILTIN_ALERTS: dict[str, BuiltinAlert] = {
    a.name: a
    for a in (
        BuiltinAlert(
            "HighErrorRate",
            Decimal("0.01"),
            "5m",
            "critical",
            "More than the threshold share of HTTP requests fail with 5xx",
            None,
            unit="ratio",
        ),
        BuiltinAlert(
            "HighLatencyP99",
            Decimal("1"),
            "10m",
            "warning",
            "p99 HTTP latency is above the threshold",
            None,
            unit="seconds",
        ),
        BuiltinAlert(
            "ServiceDown", None, "1m", "critical", "No scrape target of the service is up", None
        ),
        BuiltinAlert(
            "HighCPU",
            Decimal("0.8"),
            "10m",
            "warning",
            "A process uses more than the threshold of one CPU core",
            None,
            frozenset({"instance", "job"}),
            "ratio",
        ),
        BuiltinAlert(
            "HighMemory",
            Decimal("0.9"),
            "10m",
            "warning",
            "Host memory utilization is above the threshold",
            None,
            frozenset({"instance", "job"}),
            "ratio",
        ),
        BuiltinAlert(
            "DiskSpaceLow",
            Decimal("0.85"),
            "15m",
            "warning",
            "A filesystem is fuller than the threshold",
            None,
            frozenset({"instance", "job", "mountpoint"}),
            "ratio",
        ),
        BuiltinAlert(
            "HealthCheckFailing",
            None,
            "2m",
            "critical",
            "A critical health check is failing",
            None,
            frozenset({"check", "instance", "job"}),
        ),
        BuiltinAlert(
            "DatabaseDown",
            None,
            "1m",
            "critical",
            "postgres_exporter cannot reach the database",
            "postgres",
            frozenset({"dependency", "instance", "job"}),
        ),
        BuiltinAlert(
            "RedisDown",
            None,
            "1m",
            "critical",
            "redis_exporter cannot reach Redis",
            "redis",
            frozenset({"dependency", "instance", "job"}),
        ),
        BuiltinAlert(
            "ProbeFailing",
            None,
            "2m",
            "critical",
            "The blackbox probe of an HTTP dependency fails",
            "http",
            frozenset({"dependency", "instance", "job"}),
        ),
        BuiltinAlert(
            "CacheHitRateLow",
            Decimal("0.8"),
            "15m",
            "warning",
            "The cache hit ratio is below the threshold",
            "redis",
            frozenset({"cache"}),
            "ratio",
        ),
        BuiltinAlert(
            "QueueBacklog",
            Decimal("10000"),
            "10m",
            "warning",
            "A queue holds more items than the threshold",
            "queue",
            frozenset({"queue"}),
            "items",
        ),
        BuiltinAlert(
            "QuotaLow",
            Decimal("1000"),
            "5m",
            "warning",
            "A quota has fewer units left than the threshold",
            "quota",
            frozenset({"quota"}),
            "units",
        ),
        BuiltinAlert(
            "QuotaExhaustionPredicted",
            None,
            "15m",
            "warning",
            "At the current pace a quota runs out within the horizon",
            "quota",
            frozenset({"quota"}),
        ),
        BuiltinAlert(
            "LLMCostOverBudget",
            Decimal("10"),
            "5m",
            "warning",
            "LLM spend over the last hour is above the hourly budget",
            "llm",
            unit="USD",
        ),
        BuiltinAlert(
            "TrafficSpike",
            Decimal("3"),
            "10m",
            "warning",
            "Request rate is more than threshold× the same hour yesterday",
            None,
            unit="x",
        ),
        BuiltinAlert(
            "TrafficDrop",
            Decimal("0.5"),
            "10m",
            "warning",
            "Request rate is below threshold× the same hour yesterday",
            None,
            unit="x",
        ),
    )
}
