"""``prometheus/prometheus.yml``: the service's scrape job (job name = service, which
``up{job=...}`` in ServiceDown relies on), one job per exporter or probe, the rule
file and Alertmanager."""

from __future__ import annotations

from watchkeeper.generate.alerts import exporter_job
from watchkeeper.generate.artifact import Artifact, yaml_document
from watchkeeper.spec.model import HttpDependency, PostgresDependency, RedisDependency, ServiceSpec

__all__ = ["prometheus_config"]


def prometheus_config(
    spec: ServiceSpec, source: str, alertmanager: str = "alertmanager:9093"
) -> Artifact:
    targets = spec.parsed_targets
    jobs: list[dict[str, object]] = [
        {
            "job_name": spec.service,
            "scheme": targets[0].scheme,
            "metrics_path": targets[0].path,
            "static_configs": [{"targets": [t.address for t in targets]}],
        }
    ]
    for dep in spec.dependencies:
        if isinstance(dep, PostgresDependency | RedisDependency):
            jobs.append(
                {
                    "job_name": exporter_job(spec, dep.name),
                    "static_configs": [
                        {"targets": [dep.exporter], "labels": {"dependency": dep.name}}
                    ],
                }
            )
        elif isinstance(dep, HttpDependency):
            # The blackbox exporter probes the URL given as ?target=; relabel it so
            # instance names the dependency's URL, not the exporter.
            jobs.append(
                {
                    "job_name": exporter_job(spec, dep.name),
                    "metrics_path": "/probe",
                    "params": {"module": ["http_2xx"]},
                    "static_configs": [{"targets": [dep.url], "labels": {"dependency": dep.name}}],
                    "relabel_configs": [
                        {"source_labels": ["__address__"], "target_label": "__param_target"},
                        {"source_labels": ["__param_target"], "target_label": "instance"},
                        {"target_label": "__address__", "replacement": dep.blackbox},
                    ],
                }
            )
    data = {
        "global": {
            "scrape_interval": str(spec.scrape_interval),
            "evaluation_interval": "1m",
        },
        "rule_files": [f"rules/{spec.service}.rules.yml"],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]},
        "scrape_configs": jobs,
    }
    return Artifact("prometheus/prometheus.yml", yaml_document(source, data))
