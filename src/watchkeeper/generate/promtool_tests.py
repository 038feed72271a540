"""promtool unit tests for every generated alert (``prometheus/tests/<service>.test.yml``).

One test group per scenario: the rule's input series, then at each check time the
complete list of alerts of that name expected firing, with labels and annotations
rendered as Prometheus will render them. A last group feeds no service data at all:
ServiceDown must fire (``absent``) and nothing else may.
"""

from __future__ import annotations

from watchkeeper.generate.artifact import Artifact, yaml_document
from watchkeeper.generate.promql import render_template
from watchkeeper.generate.rules import AlertRule, Expected, RuleGroup, Scenario
from watchkeeper.spec.durations import Duration
from watchkeeper.spec.model import ServiceSpec

__all__ = ["promtool_tests"]


def _at(seconds: int) -> str:
    return str(Duration(seconds))


def _expected_alert(
    alerts: list[AlertRule], name: str, expected: Expected, own: AlertRule | None = None
) -> dict[str, object]:
    """Labels and rendered annotations of an expected alert.

    The scenario's own rule is preferred; another rule of the same name is used when
    the expected labels say so (another burn window of the same SLO).
    """
    pool = ([own] if own is not None else []) + alerts
    candidates = [
        a
        for a in pool
        if a.name == name and all(a.labels.get(k, v) == v for k, v in expected.labels.items())
    ]
    rule = candidates[0]
    labels = {**rule.labels, **expected.labels}
    annotations = {
        k: render_template(v, labels, expected.value) for k, v in rule.annotations.items()
    }
    return {
        "exp_labels": dict(sorted(labels.items())),
        "exp_annotations": dict(sorted(annotations.items())),
    }


def _group(alerts: list[AlertRule], rule: AlertRule, scenario: Scenario) -> dict[str, object]:
    subject = f" {rule.labels['dependency']}" if "dependency" in rule.labels else ""
    group: dict[str, object] = {
        "name": f"{rule.name}{subject}: {scenario.name}",
        "interval": _at(scenario.interval),
        "input_series": [{"series": s.series, "values": s.values} for s in scenario.series],
    }
    if rule.count_test:
        # Custom alerts: their labels depend on the user's PromQL; count firing ones.
        query = f'count(ALERTS{{alertname="{rule.name}",alertstate="firing"}})'
        group["promql_expr_test"] = [
            {
                "expr": query,
                "eval_time": _at(at),
                "exp_samples": [{"labels": "{}", "value": len(exp)}] if exp else [],
            }
            for at, exp in scenario.checks
        ]
        return group
    checks = [(rule.name, at, expected) for at, expected in scenario.checks]
    checks += list(scenario.other_checks)
    group["alert_rule_test"] = [
        {
            "eval_time": _at(at),
            "alertname": name,
            "exp_alerts": [_expected_alert(alerts, name, e, rule) for e in expected],
        }
        for name, at, expected in sorted(checks, key=lambda c: (c[1], c[0]))
    ]
    return group


def _absent_group(spec: ServiceSpec, alerts: list[AlertRule]) -> dict[str, object]:
    down = next((a for a in alerts if a.name == "ServiceDown"), None)
    at = (down.hold.seconds if down else 0) + 60
    cases = []
    for name in sorted({a.name for a in alerts if not a.count_test}):
        expected = (
            [_expected_alert(alerts, name, Expected({"job": spec.service}, 0))]
            if name == "ServiceDown"
            else []
        )
        cases.append({"eval_time": _at(at), "alertname": name, "exp_alerts": expected})
    return {
        "name": "no data from the service at all: only ServiceDown fires",
        "interval": "1m",
        "input_series": [
            {"series": 'unrelated_metric{job="other"}', "values": f"1x{at // 60 + 2}"}
        ],
        "alert_rule_test": cases,
    }


def promtool_tests(spec: ServiceSpec, source: str, groups: list[RuleGroup]) -> Artifact:
    alerts = [a for g in groups for a in g.alerts]
    tests = [_group(alerts, rule, scenario) for rule in alerts for scenario in rule.scenarios]
    tests.append(_absent_group(spec, alerts))
    data = {
        "rule_files": [f"../rules/{spec.service}.rules.yml"],
        "evaluation_interval": "1m",
        "tests": tests,
    }
    note = "run: promtool test rules " + f"prometheus/tests/{spec.service}.test.yml"
    return Artifact(f"prometheus/tests/{spec.service}.test.yml", yaml_document(source, data, note))
