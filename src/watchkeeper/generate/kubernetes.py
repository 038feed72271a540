"""Kubernetes manifests for the Prometheus Operator: the same rules as a
PrometheusRule, a ServiceMonitor, blackbox Probes, and container probe snippets."""

from __future__ import annotations

from watchkeeper.generate.artifact import Artifact, yaml_document
from watchkeeper.generate.rules import RuleGroup, rules_data
from watchkeeper.spec.model import HttpDependency, ServiceSpec

__all__ = ["kubernetes_artifacts"]


def kubernetes_artifacts(spec: ServiceSpec, source: str, groups: list[RuleGroup]) -> list[Artifact]:
    k = spec.kubernetes
    meta = {
        "name": spec.service,
        "namespace": k.namespace,
        "labels": {"app.kubernetes.io/name": spec.service, **k.rule_labels},
    }
    selector = dict(k.selector) or {"app.kubernetes.io/name": spec.service}
    target = spec.parsed_targets[0]
    out = [
        Artifact(
            "kubernetes/prometheusrule.yaml",
            yaml_document(
                source,
                {
                    "apiVersion": "monitoring.coreos.com/v1",
                    "kind": "PrometheusRule",
                    "metadata": meta,
                    "spec": rules_data(groups),
                },
            ),
        ),
        Artifact(
            "kubernetes/servicemonitor.yaml",
            yaml_document(
                source,
                {
                    "apiVersion": "monitoring.coreos.com/v1",
                    "kind": "ServiceMonitor",
                    "metadata": meta,
                    "spec": {
                        "selector": {"matchLabels": selector},
                        "endpoints": [
                            {
                                "port": k.port,
                                "path": target.path,
                                "scheme": target.scheme,
                                "interval": str(spec.scrape_interval),
                                # The rules select job="<service>"; the operator would
                                # otherwise name the job after the Kubernetes Service.
                                "relabelings": [
                                    {
                                        "action": "replace",
                                        "targetLabel": "job",
                                        "replacement": spec.service,
                                    }
                                ],
                            }
                        ],
                    },
                },
                note=""
                if k.selector
                else "kubernetes.selector is unset: edit matchLabels to your Service's labels",
            ),
        ),
        Artifact(
            "kubernetes/probes.yaml",
            yaml_document(
                source,
                {
                    "livenessProbe": {
                        "httpGet": {"path": k.liveness_path, "port": k.port},
                        "periodSeconds": 10,
                        "failureThreshold": 3,
                    },
                    "readinessProbe": {
                        "httpGet": {"path": k.readiness_path, "port": k.port},
                        "periodSeconds": 5,
                        "failureThreshold": 2,
                    },
                },
                note="container probe snippet: paste under your Deployment's container",
            ),
        ),
    ]
    http = [d for d in spec.dependencies if isinstance(d, HttpDependency)]
    if http:
        probes = [
            {
                "apiVersion": "monitoring.coreos.com/v1",
                "kind": "Probe",
                "metadata": {"name": f"{spec.service}-{d.name}", "namespace": k.namespace},
                "spec": {
                    "jobName": f"{spec.service}-{d.name}",
                    "module": "http_2xx",
                    "prober": {"url": d.blackbox},
                    "targets": {
                        "staticConfig": {"static": [d.url], "labels": {"dependency": d.name}}
                    },
                },
            }
            for d in http
        ]
        out.append(
            Artifact(
                "kubernetes/blackbox-probes.yaml",
                yaml_document(source, {"apiVersion": "v1", "kind": "List", "items": probes}),
            )
        )
    return out
