"""Pure generators: a validated spec in, a sorted list of artifacts out; no I/O.

``generate_all(spec, source)`` is the one entry point the CLI calls; each module owns
one output (rules, tests, Alertmanager, Grafana, runbooks, Kubernetes, compose).
"""

from __future__ import annotations

from collections.abc import Mapping

from watchkeeper.generate.alertmanager import alertmanager_config, routes_tests
from watchkeeper.generate.artifact import Artifact
from watchkeeper.generate.compose import compose_artifact
from watchkeeper.generate.golden import build_rule_groups
from watchkeeper.generate.grafana import grafana_artifacts
from watchkeeper.generate.kubernetes import kubernetes_artifacts
from watchkeeper.generate.prometheus_config import prometheus_config
from watchkeeper.generate.promtool_tests import promtool_tests
from watchkeeper.generate.rules import rules_artifact
from watchkeeper.generate.runbooks import runbook_artifacts
from watchkeeper.spec import ServiceSpec, SpecProblems, check_spec

__all__ = ["Artifact", "build_rule_groups", "generate_all"]


def generate_all(
    spec: ServiceSpec, source: str = "watchkeeper.yaml", secrets: Mapping[str, str] | None = None
) -> list[Artifact]:
    """Every artifact for ``spec``, sorted by path. ``secrets`` expands ``${VAR}``s."""
    problems = check_spec(spec)  # a spec built in code skipped the loader's checks
    if problems:
        rendered = [p.render(source, None) for p in problems]
        raise SpecProblems(problems, rendered)
    groups = build_rule_groups(spec)
    alerts = [a for g in groups for a in g.alerts]
    artifacts = [
        prometheus_config(spec, source),
        rules_artifact(spec, source, groups),
        promtool_tests(spec, source, groups),
        alertmanager_config(spec, source, alerts, secrets),
        routes_tests(spec, source, alerts),
        *grafana_artifacts(spec, source),
        *runbook_artifacts(spec, source, alerts),
        *kubernetes_artifacts(spec, source, groups),
        compose_artifact(spec, source),
    ]
    return sorted(artifacts)
