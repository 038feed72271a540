"""LLMCostOverBudget honours ``window:``: the spend over the window, scaled to an hour,
against the hourly budget; its generated tests pass on promtool and on the embedded
engine, and fail on both when the rule forgets the scaling."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from watchkeeper.generate import build_rule_groups, generate_all
from watchkeeper.generate.rules import AlertRule
from watchkeeper.monitor.rules import run_unit_test_file
from watchkeeper.spec import ServiceSpec, load_spec_text


def _spec(override: str = "") -> ServiceSpec:
    alerts = f"alerts: {{LLMCostOverBudget: {{{override}}}}}\n" if override else ""
    return load_spec_text(f"service: a\nllm: {{budget_usd_per_hour: 5}}\n{alerts}")


def _rule(spec: ServiceSpec) -> AlertRule:
    (rule,) = [
        a for g in build_rule_groups(spec) for a in g.alerts if a.name == "LLMCostOverBudget"
    ]
    return rule


def test_default_window_is_one_hour_of_spend() -> None:
    rule = _rule(_spec())
    assert rule.expr == 'sum(increase(llm_cost_usd_total{job="a"}[1h])) > 5'
    assert rule.annotations["description"] == (
        "The last hour cost more than the 5 USD/hour budget."
    )
    assert _rule(_spec("window: 1h")).expr == rule.expr


@pytest.mark.parametrize(
    ("window", "expr"),
    [
        ("15m", 'sum(increase(llm_cost_usd_total{job="a"}[15m])) * 3600 / 900 > 7.5'),
        ("2h", 'sum(increase(llm_cost_usd_total{job="a"}[2h])) * 3600 / 7200 > 7.5'),
    ],
)
def test_window_is_the_spend_over_it_per_hour(window: str, expr: str) -> None:
    rule = _rule(_spec(f"window: {window}, threshold: 7.5"))
    assert rule.expr == expr
    assert rule.annotations["description"] == (
        f"At the pace of the last {window}, LLM spend is more than the 7.5 USD/hour budget."
    )
    # The firing scenario waits for the window to fill with spend (plus the hold).
    firing = rule.scenarios[0]
    last_check = firing.checks[-1][0]
    assert last_check == {"15m": 900, "2h": 7200}[window] + 300


def _write_llm_tests(spec: ServiceSpec, out: Path, *, drop_scaling: bool = False) -> Path:
    for artifact in generate_all(spec, "a.yaml"):
        if artifact.path.startswith("prometheus/"):
            (out / artifact.path).parent.mkdir(parents=True, exist_ok=True)
            (out / artifact.path).write_text(artifact.text, encoding="utf-8")
    rules = out / "prometheus/rules/a.rules.yml"
    if drop_scaling:
        text = rules.read_text(encoding="utf-8")
        assert " * 3600 / 900 > 5" in text
        rules.write_text(text.replace(" * 3600 / 900 > 5", " > 5"), encoding="utf-8")
    test_file = out / "prometheus/tests/a.test.yml"
    yaml = YAML(typ="safe", pure=True)
    yaml.width = 4096
    doc = yaml.load(test_file.read_text(encoding="utf-8"))
    doc["tests"] = [g for g in doc["tests"] if g["name"].startswith("LLMCostOverBudget")]
    assert len(doc["tests"]) == 2  # just above and just below the budget
    with test_file.open("w", encoding="utf-8") as fh:
        yaml.dump(doc, fh)
    return test_file


def _promtool(test_file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["promtool", "test", "rules", test_file.name],
        cwd=test_file.parent,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.skipif(shutil.which("promtool") is None, reason="needs Debian's prometheus")
@pytest.mark.parametrize("broken", [False, True], ids=["as generated", "without scaling"])
def test_generated_tests_judge_the_window_on_both_engines(tmp_path: Path, broken: bool) -> None:
    test_file = _write_llm_tests(_spec("window: 15m"), tmp_path, drop_scaling=broken)
    promtool = _promtool(test_file)
    ours = run_unit_test_file(test_file)
    assert (promtool.returncode == 0) is not broken, promtool.stdout + promtool.stderr
    assert ours.ok is not broken, ours.report()
