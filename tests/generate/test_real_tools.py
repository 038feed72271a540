"""The generated files under the real Prometheus and Alertmanager tools.

This is what CI checks for each example spec: ``promtool check config``, ``promtool
check rules``, ``promtool test rules``, ``amtool check-config`` and every line of
``routes.test.txt`` through ``amtool config routes test``. The examples run
concurrently: promtool's unit tests are CPU-bound and the examples are independent.
"""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from watchkeeper.cli.spec_cmds import ToolCheck, run_tool_checks
from watchkeeper.generate import generate_all
from watchkeeper.spec import load_spec, load_spec_text

EXAMPLES = sorted((Path(__file__).parents[2] / "examples" / "specs").glob("*.yaml"))

pytestmark = pytest.mark.skipif(
    shutil.which("promtool") is None or shutil.which("amtool") is None,
    reason="needs Debian's prometheus and prometheus-alertmanager (scripts/setup-system.sh)",
)


def _write(spec_path: Path, out: Path) -> Path:
    for artifact in generate_all(load_spec(spec_path), spec_path.name):
        path = out / artifact.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(artifact.text, encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[ToolCheck]]:
    dirs = {p.stem: _write(p, tmp_path_factory.mktemp(p.stem)) for p in EXAMPLES}
    with ThreadPoolExecutor(max_workers=len(dirs)) as pool:
        futures = {name: pool.submit(run_tool_checks, out) for name, out in dirs.items()}
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("example", [p.stem for p in EXAMPLES])
def test_example_passes_promtool_and_amtool(
    results: dict[str, list[ToolCheck]], example: str
) -> None:
    checks = results[example]
    names = [c.name for c in checks]
    assert names[:4] == [
        "promtool check config",
        "promtool check rules",
        "promtool test rules",
        "amtool check-config",
    ]
    assert any(n.startswith("amtool config routes test --verify.receivers=") for n in names[4:])
    failed = [f"{c.name}\n{c.output}" for c in checks if not c.ok]
    assert not failed, "\n\n".join(failed)


_PAGE_TEST = """\
rule_files: [../rules/a.rules.yml]
evaluation_interval: 1m
tests:
  - name: steady error ratio just above 14.4 x 0.1% budget
    interval: 1m
    input_series:
      - series: http_server_request_duration_seconds_count{job="a",http_response_status_code="200"}
        values: 0+98.55x30
      - series: http_server_request_duration_seconds_count{job="a",http_response_status_code="500"}
        values: 0+1.45x30
    promql_expr_test:
      - expr: count(ALERTS{alertname="SLOErrorBudgetBurn",long_window="1h",alertstate="firing"})
        eval_time: 10m
        exp_samples: [{labels: '{}', value: 1}]
  - name: steady error ratio just below 14.4 x 0.1% budget
    interval: 1m
    input_series:
      - series: http_server_request_duration_seconds_count{job="a",http_response_status_code="200"}
        values: 0+98.57x30
      - series: http_server_request_duration_seconds_count{job="a",http_response_status_code="500"}
        values: 0+1.43x30
    promql_expr_test:
      - expr: count(ALERTS{alertname="SLOErrorBudgetBurn",long_window="1h",alertstate="firing"})
        eval_time: 10m
        exp_samples: []
      # the 6x page (6h/30m) rightly fires at 1.43%: the 1h tier alone stays quiet
      - expr: count(ALERTS{alertname="SLOErrorBudgetBurn",long_window="6h",alertstate="firing"})
        eval_time: 10m
        exp_samples: [{labels: '{}', value: 1}]
"""


def test_page_tier_fires_just_above_14_4_times_budget_and_not_below(tmp_path: Path) -> None:
    spec = load_spec_text(
        textwrap.dedent("""\
            service: a
            slos:
              - {name: availability, objective: 99.9, sli: {kind: availability}}
        """)
    )
    for artifact in generate_all(spec, "a.yaml"):
        if artifact.path.startswith("prometheus/"):
            (tmp_path / artifact.path).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / artifact.path).write_text(artifact.text, encoding="utf-8")
    (tmp_path / "prometheus/tests/page.test.yml").write_text(_PAGE_TEST, encoding="utf-8")
    done = subprocess.run(
        ["promtool", "test", "rules", "page.test.yml"],
        cwd=tmp_path / "prometheus/tests",
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


_PERIOD_TEST = """\
rule_files: [../rules/a.rules.yml]
evaluation_interval: 1m
tests:
  - name: busy hour without errors, then a quiet hour with half failing
    interval: 1m
    input_series:
      - series: http_server_request_duration_seconds_count{job="a",http_response_status_code="200"}
        values: 0+1000x60 60005+5x60
      - series: http_server_request_duration_seconds_count{job="a",http_response_status_code="500"}
        values: 0x60 5+5x60
    promql_expr_test:
      # 300 failures of 60600 requests: 0.495%, where an average of 5m ratios says ~25%.
      - expr: round(slo:sli_error:ratio_increase30d * 1e6)
        eval_time: 2h
        exp_samples: [{labels: '{service="a",slo="availability"}', value: 4950}]
"""


def test_period_sli_is_exact_under_uneven_traffic(tmp_path: Path) -> None:
    spec = load_spec_text(
        "service: a\nslos: [{name: availability, objective: 99.9, sli: {kind: availability}}]\n"
    )
    for artifact in generate_all(spec, "a.yaml"):
        if artifact.path.startswith("prometheus/"):
            (tmp_path / artifact.path).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / artifact.path).write_text(artifact.text, encoding="utf-8")
    (tmp_path / "prometheus/tests/period.test.yml").write_text(_PERIOD_TEST, encoding="utf-8")
    done = subprocess.run(
        ["promtool", "test", "rules", "period.test.yml"],
        cwd=tmp_path / "prometheus/tests",
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("original", "mutant"),
    [
        ("> 0.01\n", "> 0.0102\n"),  # threshold nudged past the "just above" series
        ("for: 5m", "for: 6m"),  # hold changed: the after-the-hold check must notice
        ("> 0.0144\n", "> 0.0145\n"),  # the 14.4x page threshold
    ],
)
def test_generated_tests_catch_a_mutated_rule(tmp_path: Path, original: str, mutant: str) -> None:
    """The generated tests are not vacuous: a slightly wrong rule fails them."""
    spec = load_spec_text(
        "service: a\n"
        "slos: [{name: x, objective: 99.9, sli: {kind: availability}}]\n"
        "alerts: {TrafficSpike: {enabled: false}, TrafficDrop: {enabled: false}}\n"
    )
    for artifact in generate_all(spec, "a.yaml"):
        if artifact.path.startswith("prometheus/"):
            (tmp_path / artifact.path).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / artifact.path).write_text(artifact.text, encoding="utf-8")
    rules = tmp_path / "prometheus/rules/a.rules.yml"
    text = rules.read_text()
    assert original in text
    rules.write_text(text.replace(original, mutant, 1))
    done = subprocess.run(
        ["promtool", "test", "rules", "a.test.yml"],
        cwd=tmp_path / "prometheus/tests",
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0, done.stdout
