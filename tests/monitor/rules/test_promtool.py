"""The promtool unit-test runner against the real promtool 2.42: same verdicts.

The generated tests of every example spec (a deterministic sample of each, to keep the
suite fast; the whole file of the smallest example), a deliberately broken copy both
must fail, and hand-written files exercising the notation (``_x3``, ``stale``),
``promql_expr_test``, ``keep_firing_for``, templates and external labels.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from watchkeeper.generate import generate_all
from watchkeeper.monitor.rules import UnitTestResult, run_unit_test_file
from watchkeeper.spec import load_spec

EXAMPLES = sorted((Path(__file__).parents[3] / "examples" / "specs").glob("*.yaml"))

needs_promtool = pytest.mark.skipif(
    shutil.which("promtool") is None, reason="needs Debian's prometheus (promtool)"
)


def _generate(spec_path: Path, out: Path) -> Path:
    for artifact in generate_all(load_spec(spec_path), spec_path.name):
        path = out / artifact.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(artifact.text, encoding="utf-8")
    return out


def _yaml() -> YAML:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.width = 4096
    return yaml


def _sample(test_file: Path, out: Path, *, keep: int, max_minutes: int) -> Path:
    """A test file with every k-th test group whose evaluation stays short."""
    doc = _yaml().load(test_file.read_text())

    def minutes(group: dict[str, object]) -> int:
        times = [c["eval_time"] for c in group.get("alert_rule_test", [])]  # type: ignore[attr-defined]
        times += [c["eval_time"] for c in group.get("promql_expr_test", [])]  # type: ignore[attr-defined]
        return max(_minutes(str(t)) for t in times)

    short = [g for g in doc["tests"] if minutes(g) <= max_minutes]
    step = max(1, len(short) // keep)
    doc["tests"] = short[::step][:keep]
    with out.open("w") as fh:
        _yaml().dump(doc, fh)
    return out


def _minutes(text: str) -> int:
    total = 0
    for amount, unit in re.findall(r"(\d+)([a-z]+)", text):
        total += int(amount) * {"s": 0, "m": 1, "h": 60, "d": 1440}.get(unit, 0)
    return total


class _Promtool:
    """promtool in its own process, started first so both engines work at once."""

    def __init__(self, test_file: Path) -> None:
        self.process = subprocess.Popen(
            ["promtool", "test", "rules", test_file.name],
            cwd=test_file.parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )

    def verdict(self) -> tuple[bool, str]:
        out, _ = self.process.communicate(timeout=600)
        return self.process.returncode == 0, out.decode()


def _both(test_file: Path) -> tuple[tuple[bool, str], UnitTestResult]:
    promtool = _Promtool(test_file)
    ours = run_unit_test_file(test_file)
    return promtool.verdict(), ours


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {p.stem: _generate(p, tmp_path_factory.mktemp(p.stem)) for p in EXAMPLES}


@needs_promtool
@pytest.mark.parametrize("example", [p.stem for p in EXAMPLES])
def test_generated_tests_pass_on_both(generated: dict[str, Path], example: str) -> None:
    tests = generated[example] / "prometheus" / "tests"
    (test_file,) = tests.glob("*.test.yml")
    sample = _sample(test_file, tests / "sample.yml", keep=8, max_minutes=25)
    (ok, output), ours = _both(sample)
    assert ok, output
    assert ours.ok, ours.report()


@needs_promtool
def test_a_broken_threshold_fails_on_both(generated: dict[str, Path], tmp_path: Path) -> None:
    source = generated["minimal"] / "prometheus"
    shutil.copytree(source, tmp_path / "prometheus")
    (rules,) = (tmp_path / "prometheus" / "rules").glob("*.yml")
    text = rules.read_text()
    # HighErrorRate's threshold moves from 1% to 2%: its "just above" test must fail.
    broken = re.sub(r"(- alert: HighErrorRate\n\s+expr: .*) > 0\.01\n", r"\1 > 0.02\n", text)
    assert broken != text
    rules.write_text(broken)
    (test_file,) = (tmp_path / "prometheus" / "tests").glob("*.test.yml")
    doc = _yaml().load(test_file.read_text())
    doc["tests"] = [g for g in doc["tests"] if g["name"].startswith("HighErrorRate")]
    assert doc["tests"]
    with test_file.open("w") as fh:
        _yaml().dump(doc, fh)
    (ok, output), ours = _both(test_file)
    assert not ok, output
    assert not ours.ok
    assert "alertname: HighErrorRate" in ours.report()


# A gauge ended by a stale marker: our engine has Prometheus 3's left-open range and
# lookback windows, promtool 2.42 closed ones, so where a series without a stale marker
# stops matching differs by one step; a stale marker ends it at the same step on both.
RULES = """\
groups:
  - name: g
    rules:
      - record: job:req:rate1m
        expr: sum by (job) (req_rate)
      - alert: Busy
        expr: job:req:rate1m > 1
        for: 2m
        keep_firing_for: 3m
        labels:
          severity: "{{ if gt $value 5.0 }}page{{ else }}ticket{{ end }}"
        annotations:
          summary: '{{ $labels.job }} at {{ $value | humanize }} req/s ({{ $externalLabels.dc }})'
          ratio: '{{ 0.123456 | humanizePercentage }} {{ 3725 | humanizeDuration }}'
          size: '{{ 1048576 | humanize1024 }} {{ $value | printf "%.2f" }}'
      - alert: Gone
        expr: absent(req_total{job="b"})
"""

# 3 requests/s for 10 minutes, then stale; "b" never exists.
TESTS = """\
rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    external_labels: {dc: eu1}
    input_series:
      - series: req_rate{job="a"}
        values: 3x10 stale
    alert_rule_test:
      - eval_time: 1m
        alertname: Busy
        exp_alerts: []
      - eval_time: 4m
        alertname: Busy
        exp_alerts:
          - exp_labels: {job: a, severity: ticket}
            exp_annotations:
              summary: a at 3 req/s (eu1)
              ratio: 12.35% 1h 2m 5s
              size: 1Mi 3.00
      - eval_time: 16m
        alertname: Busy
        exp_alerts: EXPECTED_AT_16M
      - eval_time: 1m
        alertname: Gone
        exp_alerts:
          - exp_labels: {job: b}
    promql_expr_test:
      - expr: job:req:rate1m
        eval_time: 5m
        exp_samples:
          - labels: 'job:req:rate1m{job="a"}'
            value: 3
      - expr: count(ALERTS{alertstate="firing"})
        eval_time: 20m
        exp_samples:
          - labels: '{}'
            value: 1
"""


def _write_case(tmp_path: Path, expected_at_16m: str) -> Path:
    (tmp_path / "rules.yml").write_text(RULES)
    path = tmp_path / "case.test.yml"
    path.write_text(TESTS.replace("EXPECTED_AT_16M", expected_at_16m))
    return path


@needs_promtool
@pytest.mark.parametrize(
    ("expected_at_16m", "passes"),
    [
        # The series goes stale at 11m; keep_firing_for holds the alert until 14m.
        ("[]", True),
        ("[{exp_labels: {job: a, severity: ticket}}]", False),
    ],
)
def test_hand_written_cases_match_promtool(
    tmp_path: Path, expected_at_16m: str, passes: bool
) -> None:
    (ok, output), ours = _both(_write_case(tmp_path, expected_at_16m))
    assert ok is passes, output
    assert ours.ok is passes, ours.report()


def _keep_firing_timeline(tmp_path: Path) -> list[int]:
    """One file per minute, each expecting Busy silent then: the verdicts trace when it fires."""
    (tmp_path / "rules.yml").write_text(RULES)
    minutes = list(range(9, 19))
    for minute in minutes:
        doc = _yaml().load(TESTS.replace("EXPECTED_AT_16M", "[]"))
        doc["tests"][0]["alert_rule_test"] = [
            {"eval_time": f"{minute}m", "alertname": "Busy", "exp_alerts": []}
        ]
        doc["tests"][0].pop("promql_expr_test")
        path = tmp_path / f"t{minute}.test.yml"
        with path.open("w") as fh:
            _yaml().dump(doc, fh)
    return minutes


@needs_promtool
def test_keep_firing_for_timeline_matches_promtool(tmp_path: Path) -> None:
    minutes = _keep_firing_timeline(tmp_path)
    runs = {m: _Promtool(tmp_path / f"t{m}.test.yml") for m in minutes}
    ours = {m: run_unit_test_file(tmp_path / f"t{m}.test.yml").ok for m in minutes}
    theirs = {m: runs[m].verdict()[0] for m in minutes}
    assert ours == theirs
    # Not vacuous: it fires for part of the window and is quiet for another part.
    assert set(theirs.values()) == {True, False}


def test_runner_reports_a_bad_rule_file_with_its_location(tmp_path: Path) -> None:
    (tmp_path / "rules.yml").write_text("groups:\n  - name: g\n    rules:\n      - alert: X\n")
    path = tmp_path / "t.yml"
    path.write_text("rule_files: [rules.yml]\ntests: []\n")
    result = run_unit_test_file(path)
    assert not result.ok
    assert re.search(
        r"rules\.yml:4: group \"g\", rule 1 \(alert \"X\"\): field 'expr'", result.report()
    )


def test_runner_refuses_unknown_fields(tmp_path: Path) -> None:
    path = tmp_path / "t.yml"
    path.write_text("rule_files: []\ntestz: []\n")
    assert "testz" in run_unit_test_file(path).report()
