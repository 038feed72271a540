"""Rule files: the generated ones load; bad ones fail with file:line, group, rule and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from watchkeeper.generate import build_rule_groups
from watchkeeper.generate.rules import rules_artifact
from watchkeeper.monitor.rules import RuleFileError, load_rule_file, parse_rule_text
from watchkeeper.spec import load_spec

EXAMPLES = sorted((Path(__file__).parents[3] / "examples" / "specs").glob("*.yaml"))


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_every_generated_rule_file_loads(example: Path) -> None:
    spec = load_spec(example)
    groups = build_rule_groups(spec)
    artifact = rules_artifact(spec, example.name, groups)
    loaded = parse_rule_text(artifact.text, artifact.path)
    assert [g.name for g in loaded] == [g.name for g in groups]
    assert [len(g.rules) for g in loaded] == [len(g.rules) for g in groups]
    alerts = [r for g in loaded for r in g.rules if r.kind == "alert"]
    assert alerts
    assert all(r.annotation_templates for r in alerts)


def test_a_valid_file_keeps_every_field(tmp_path: Path) -> None:
    path = tmp_path / "r.yml"
    path.write_text(
        "groups:\n"
        "  - name: g\n"
        "    interval: 30s\n"
        "    limit: 10\n"
        "    rules:\n"
        "      - record: job:up:sum\n"
        "        expr: sum by (job) (up)\n"
        "        labels: {tier: '1'}\n"
        "      - alert: Down\n"
        "        expr: job:up:sum == 0\n"
        "        for: 5m\n"
        "        keep_firing_for: 10m\n"
        "        labels: {severity: page}\n"
        "        annotations: {summary: '{{ $labels.job }} down'}\n"
    )
    (group,) = load_rule_file(path)
    assert (group.name, group.interval_ms, group.limit, group.file) == ("g", 30_000, 10, str(path))
    record, alert = group.rules
    assert (record.kind, record.name, record.labels) == ("record", "job:up:sum", (("tier", "1"),))
    assert (alert.hold_ms, alert.keep_firing_for_ms) == (300_000, 600_000)
    assert alert.line == 9


BAD = """\
groups:
  - name: g
    rules:
      - alert: X
        expr: up ==
      - record: bad name
        expr: up
        for: 1m
      - alert: Y
        expr: up
        for: 5x
        labels: {bad-label: v}
        annotations:
          summary: '{{ range $labels }}x{{ end }}'
      - expr: up
      - alert: Z
        record: z
        expr: up
        severity: page
  - name: g
    rules: []
"""


def test_every_problem_is_located_and_says_the_fix() -> None:
    with pytest.raises(RuleFileError) as info:
        parse_rule_text(BAD, "alerts.yml")
    problems = info.value.problems
    expected = [
        'alerts.yml:5: group "g", rule 1 (alert "X"): could not parse expression',
        'alerts.yml:6: group "g", rule 2 (record "bad name"): invalid recording rule name',
        'alerts.yml:8: group "g", rule 2 (record "bad name"): invalid field \'for\' in '
        "recording rule",
        'alerts.yml:11: group "g", rule 3 (alert "Y"): for: not a valid duration: \'5x\'',
        'alerts.yml:12: group "g", rule 3 (alert "Y"): invalid label name \'bad-label\'',
        'alerts.yml:14: group "g", rule 3 (alert "Y"): annotation \'summary\': ',
        "alerts.yml:15: group \"g\", rule 4: one of 'record' or 'alert' must be set",
        "alerts.yml:16: group \"g\", rule 5 (record \"z\"): only one of 'record' and 'alert'",
        'alerts.yml:19: group "g", rule 5 (record "z"): unknown field \'severity\'; allowed:',
        "alerts.yml:20: group \"g\": groupname 'g' is repeated in the same file; rename one",
    ]
    for want in expected:
        assert any(p.startswith(want) for p in problems), (want, problems)
    assert len(problems) == len(expected)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("groups: [\n", "r.yml:2: not valid YAML"),
        ("rules: []\n", "unknown top-level field(s) ['rules']"),
        ("groups:\n  - rules: []\n", "groupname must not be empty"),
        ("groups:\n  - name: g\n    interval: soon\n", "interval: not a valid duration: 'soon'"),
    ],
)
def test_file_level_problems(text: str, message: str) -> None:
    with pytest.raises(RuleFileError) as info:
        parse_rule_text(text, "r.yml")
    assert message in str(info.value)


def test_an_unreadable_file_is_a_rule_file_error(tmp_path: Path) -> None:
    with pytest.raises(RuleFileError, match="cannot read rule file"):
        load_rule_file(tmp_path / "missing.yml")


def test_an_empty_file_has_no_groups() -> None:
    assert parse_rule_text("", "empty.yml") == []
