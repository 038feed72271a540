"""Recording rules for the golden signals, read by dashboards.

Named ``level:metric:operations`` (Prometheus' convention): the name says whether a
series holds a rate, a ratio or a quantile, and over which window.
"""

from __future__ import annotations

from watchkeeper.generate.alerts import builtin_alerts, custom_alerts
from watchkeeper.generate.promql import HTTP_BUCKET, HTTP_COUNT, selector
from watchkeeper.generate.rules import AlertRule, RecordingRule, RuleGroup
from watchkeeper.generate.slo import slo_groups
from watchkeeper.spec.model import ServiceSpec

__all__ = ["build_rule_groups", "golden_group"]


def golden_group(spec: ServiceSpec) -> RuleGroup:
    job = spec.service
    ids = {"service": job}
    total = selector(HTTP_COUNT, job=job)
    errors = selector(HTTP_COUNT, job=job, http_response_status_code__re="5..")
    buckets = selector(HTTP_BUCKET, job=job)
    rules = [
        RecordingRule(
            "service:http_server_requests:rate5m", f"sum by (job) (rate({total}[5m]))", ids
        ),
        RecordingRule(
            "service:http_server_request_errors:ratio_rate5m",
            f"sum by (job) (rate({errors}[5m])) / sum by (job) (rate({total}[5m]))",
            ids,
        ),
    ]
    for q in ("50", "95", "99"):
        rules.append(
            RecordingRule(
                f"service:http_server_request_duration_seconds:p{q}_rate5m",
                f"histogram_quantile(0.{q}, sum by (job, le) (rate({buckets}[5m])))",
                ids,
            )
        )
    return RuleGroup(f"{job}-golden-signals", tuple(rules))


def build_rule_groups(spec: ServiceSpec) -> list[RuleGroup]:
    """Every rule group of the service, in evaluation order."""
    alerts: list[AlertRule] = builtin_alerts(spec) + custom_alerts(spec)
    return [
        golden_group(spec),
        *slo_groups(spec),
        RuleGroup(f"{spec.service}-alerts", tuple(alerts)),
    ]
