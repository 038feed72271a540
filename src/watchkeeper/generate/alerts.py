"""Every built-in alert of a spec, and its custom alerts, as rules with scenarios.

The builders live in one module per family (golden signals, dependencies, capacity,
traffic); this module maps alert names to builders and walks the spec's inventory.
Each builder returns the rule with the scenarios that prove it: series just past
the threshold (firing after the hold, not before) and just short of it (quiet).
"""

from __future__ import annotations

from collections.abc import Callable

from watchkeeper.generate.alert_context import AlertContext, exporter_job
from watchkeeper.generate.capacity_alerts import llm_cost, quota_exhaustion
from watchkeeper.generate.dependency_alerts import cache_hit_rate_low, down_alert, labelled_gauge
from watchkeeper.generate.golden_alerts import (
    gauge_alert,
    health_check_failing,
    high_cpu,
    high_error_rate,
    high_latency_p99,
    service_down,
)
from watchkeeper.generate.links import dashboard_url, runbook_url
from watchkeeper.generate.rules import AlertRule, Expected, Scenario, Series
from watchkeeper.generate.traffic_alerts import traffic_alert
from watchkeeper.spec.durations import Duration
from watchkeeper.spec.inventory import alert_inventory
from watchkeeper.spec.model import ServiceSpec

__all__ = ["builtin_alerts", "custom_alerts", "exporter_job"]

_BUILDERS: dict[str, Callable[[AlertContext], AlertRule]] = {
    "HighErrorRate": high_error_rate,
    "HighLatencyP99": high_latency_p99,
    "ServiceDown": service_down,
    "HighCPU": high_cpu,
    "HighMemory": gauge_alert(
        "system_memory_utilization_ratio",
        {},
        True,
        "{s}: host memory is {{{{ $value | humanizePercentage }}}} used",
        "Memory utilization is above {t}.",
    ),
    "DiskSpaceLow": gauge_alert(
        "system_filesystem_utilization_ratio",
        {"mountpoint": "/"},
        True,
        "{s}: filesystem {{{{ $labels.mountpoint }}}} is {{{{ $value | humanizePercentage }}}} "
        "full",
        "A filesystem is fuller than {t}.",
    ),
    "HealthCheckFailing": health_check_failing,
    "DatabaseDown": down_alert("pg_up", "PostgreSQL"),
    "RedisDown": down_alert("redis_up", "Redis"),
    "ProbeFailing": down_alert("probe_success", "endpoint"),
    "CacheHitRateLow": cache_hit_rate_low,
    "QueueBacklog": labelled_gauge(
        "queue_depth",
        "queue",
        True,
        '{s}: queue {x} holds {{{{ $value | printf "%.4g" }}}} items',
        "More than {t} items wait in the queue.",
        "dependencies",
    ),
    "QuotaLow": labelled_gauge(
        "quota_remaining",
        "quota",
        False,
        '{s}: quota {x} has {{{{ $value | printf "%.4g" }}}} left',
        "Fewer than {t} units of the quota remain.",
        "llm",
    ),
    "QuotaExhaustionPredicted": quota_exhaustion,
    "LLMCostOverBudget": llm_cost,
    "TrafficSpike": traffic_alert(above=True),
    "TrafficDrop": traffic_alert(above=False),
}


def builtin_alerts(spec: ServiceSpec) -> list[AlertRule]:
    return [
        _BUILDERS[info.name](AlertContext(spec, info))
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
