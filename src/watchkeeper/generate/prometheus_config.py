"""``prometheus/prometheus.yml``: the spec's scrape jobs (``scrape_jobs``, the same list
``watchkeeper up -f`` scrapes), the rule file and Alertmanager."""

from __future__ import annotations

from watchkeeper.generate.artifact import Artifact, yaml_document
from watchkeeper.generate.scrape_jobs import scrape_jobs
from watchkeeper.spec.model import ServiceSpec

__all__ = ["prometheus_config"]


def prometheus_config(
    spec: ServiceSpec, source: str, alertmanager: str = "alertmanager:9093"
) -> Artifact:
    data = {
        "global": {
            "scrape_interval": str(spec.scrape_interval),
            "evaluation_interval": "1m",
        },
        "rule_files": [f"rules/{spec.service}.rules.yml"],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]},
        "scrape_configs": [job.prometheus() for job in scrape_jobs(spec)],
    }
    return Artifact("prometheus/prometheus.yml", yaml_document(source, data))
