"""The LLM and quota metrics as the generator sees them: every query the generated rules
and dashboards write over ``llm_*`` and ``quota_*`` (LLMCostOverBudget, QuotaLow,
QuotaExhaustionPredicted, the "LLM and quotas" board) names a metric and labels the SDK
really exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.instrument.conftest import parse
from watchkeeper.generate import generate_all
from watchkeeper.instrument import llm
from watchkeeper.instrument.exposition import render
from watchkeeper.instrument.quota import quota
from watchkeeper.instrument.registry import Registry
from watchkeeper.spec import load_spec

SHOP = Path(__file__).parents[2] / "examples" / "specs" / "shop.yaml"
_METRIC = re.compile(r"\b((?:llm|quota)_[a-z_]+)(\{[^}]*\})?")


def _generated_queries() -> list[str]:
    """Every PromQL expression in the shop example's rules and dashboards."""
    out: list[str] = []
    for artifact in generate_all(load_spec(SHOP), SHOP.name):
        out += re.findall(r"expr: (.+)", artifact.text)
        out += [
            json.loads(f'"{m}"') for m in re.findall(r'"expr": "((?:[^"\\]|\\.)*)"', artifact.text)
        ]
    return out


def test_generated_llm_and_quota_queries_use_exported_names_and_labels() -> None:
    registry = Registry()
    llm.record("gpt-4o", input_tokens=10, output_tokens=2, duration=0.4, registry=registry)
    spec = load_spec(SHOP)
    for q in spec.quota:
        quota(q.name, registry=registry).set(limit=100, used=1)
    exported: dict[str, set[str]] = {}
    for (name, labels), _ in parse(render(registry)).items():
        exported.setdefault(name, set()).update(k for k, _ in labels)
    checked: set[str] = set()
    for query in _generated_queries():
        for metric, matchers in _METRIC.findall(query):
            assert metric in exported, f"{query}: the SDK exports no {metric}"
            checked.add(metric)
            wanted = set(re.findall(r"(\w+)\s*=~?", matchers)) - {"job", "instance"}
            assert wanted <= exported[metric], f"{query}: {metric} has no {wanted}"
            for grouping in re.findall(r"\bby \(([^)]*)\)", query):
                by = {g.strip() for g in grouping.split(",")} - {"le"}
                assert by <= exported[metric], f"{query}: {metric} has no {by}"
    assert {
        "llm_cost_usd_total",
        "llm_tokens_total",
        "llm_request_duration_seconds_bucket",
        "quota_remaining",
    } <= checked
