"""``compose/docker-compose.yml``: Prometheus, Alertmanager, Grafana and the exporters
the spec's dependencies need, wired to the generated files."""

from __future__ import annotations

from watchkeeper.generate.artifact import Artifact, yaml_document
from watchkeeper.spec.model import ServiceSpec

__all__ = ["compose_artifact"]


def compose_artifact(spec: ServiceSpec, source: str) -> Artifact:
    services: dict[str, object] = {
        "prometheus": {
            "image": "prom/prometheus:v2.53.0",
            "command": ["--config.file=/etc/prometheus/prometheus.yml", "--web.enable-lifecycle"],
            "volumes": ["../prometheus:/etc/prometheus:ro"],
            "ports": ["9090:9090"],
        },
        "alertmanager": {
            "image": "prom/alertmanager:v0.27.0",
            "command": ["--config.file=/etc/alertmanager/alertmanager.yml"],
            "volumes": [
                "../alertmanager:/etc/alertmanager:ro",
                "./secrets:/etc/alertmanager/secrets:ro",
            ],
            "ports": ["9093:9093"],
        },
        "grafana": {
            "image": "grafana/grafana:11.1.0",
            "environment": {"GF_AUTH_ANONYMOUS_ENABLED": "true"},
            "volumes": [
                "../grafana/provisioning:/etc/grafana/provisioning:ro",
                "../grafana/dashboards:/var/lib/grafana/dashboards:ro",
            ],
            "ports": ["3000:3000"],
        },
    }
    kinds = {d.kind for d in spec.dependencies}
    if "postgres" in kinds:
        services["postgres-exporter"] = {
            "image": "quay.io/prometheuscommunity/postgres-exporter:v0.15.0",
            "environment": {"DATA_SOURCE_NAME": "${POSTGRES_DSN}"},
        }
    if "redis" in kinds:
        services["redis-exporter"] = {
            "image": "oliver006/redis_exporter:v1.62.0",
            "environment": {"REDIS_ADDR": "${REDIS_ADDR}"},
        }
    if "http" in kinds:
        services["blackbox-exporter"] = {"image": "prom/blackbox-exporter:v0.25.0"}
    return Artifact(
        "compose/docker-compose.yml",
        yaml_document(
            source,
            {"services": services},
            note="secrets for Alertmanager go in compose/secrets/<VAR> (one file per ${VAR})",
        ),
    )
