"""``watchkeeper rules check``: located problems and exit codes (``show`` is exercised
against a real monitor in tests/monitor/rules/test_up.py)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from watchkeeper.cli.rules_cmds import rules


def test_check_passes_good_files_and_locates_problems(tmp_path: Path) -> None:
    good = tmp_path / "good.yml"
    good.write_text("groups:\n  - name: g\n    rules:\n      - record: a:b\n        expr: up\n")
    bad = tmp_path / "bad.yml"
    bad.write_text("groups:\n  - name: g\n    rules:\n      - alert: X\n        for: 1m\n")
    ok = CliRunner().invoke(rules, ["check", str(good)])
    assert ok.exit_code == 0, ok.output
    assert f"ok      {good}: 1 group(s), 1 rule(s)" in ok.output
    failed = CliRunner().invoke(rules, ["check", str(good), str(bad)])
    assert failed.exit_code == 1
    assert f"FAILED  {bad}" in failed.output
    assert f'{bad}:4: group "g", rule 1 (alert "X"): field \'expr\' must be set' in failed.output
