"""``watchkeeper init | check | generate | test`` through click's runner."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from watchkeeper.cli import spec_cmds
from watchkeeper.cli.spec_cmds import check, generate, init

EXAMPLES = Path(__file__).parents[2] / "examples" / "specs"


def test_init_writes_a_valid_commented_spec_without_prompting(tmp_path: Path) -> None:
    target = tmp_path / "watchkeeper.yaml"
    result = CliRunner().invoke(init, ["--service", "cart", "--team", "shop", "-f", str(target)])
    assert result.exit_code == 0, result.output
    text = target.read_text()
    assert text.startswith("# watchkeeper service spec")
    assert "service: cart" in text
    assert "team: shop" in text
    assert CliRunner().invoke(check, ["-f", str(target)]).exit_code == 0


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "watchkeeper.yaml"
    target.write_text("service: x\n")
    result = CliRunner().invoke(init, ["--service", "cart", "-f", str(target)])
    assert result.exit_code == 1
    assert "exists; pass --force" in result.output


def test_init_without_a_name_and_no_terminal_says_which_flag(tmp_path: Path) -> None:
    result = CliRunner().invoke(init, ["-f", str(tmp_path / "w.yaml")])
    assert result.exit_code == 1
    assert "pass --service NAME" in result.output


def test_check_reports_located_errors_and_exits_1(tmp_path: Path) -> None:
    spec = tmp_path / "watchkeeper.yaml"
    spec.write_text(
        "service: shop\nslos:\n  - name: a\n    objective: 101\n    sli: {kind: availability}\n"
    )
    result = CliRunner().invoke(check, ["-f", str(spec)])
    assert result.exit_code == 1
    assert f'{spec}:4: slos[0] "a": objective must be between 0 and 100' in result.output


def test_check_ok_prints_a_summary_and_warnings() -> None:
    result = CliRunner().invoke(check, ["-f", str(EXAMPLES / "minimal.yaml")])
    assert result.exit_code == 0, result.output
    assert "ok (1 SLOs, 13 alert rules)" in result.output
    assert "warning: kubernetes.selector is not set" in result.output


def test_generate_writes_the_layout(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        generate, ["-f", str(EXAMPLES / "shop.yaml"), "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    files = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()}
    assert {
        "prometheus/prometheus.yml",
        "prometheus/rules/shop.rules.yml",
        "prometheus/tests/shop.test.yml",
        "alertmanager/alertmanager.yml",
        "alertmanager/routes.test.txt",
        "grafana/dashboards/shop-overview.json",
        "grafana/dashboards/shop-slo.json",
        "grafana/provisioning/dashboards/watchkeeper.yaml",
        "grafana/provisioning/datasources/prometheus.yaml",
        "runbooks/HighErrorRate.md",
        "kubernetes/prometheusrule.yaml",
        "kubernetes/servicemonitor.yaml",
        "compose/docker-compose.yml",
    } <= files


def test_generate_expands_secrets_only_when_asked(tmp_path: Path) -> None:
    spec = str(EXAMPLES / "shop.yaml")
    env = {"SLACK_WEBHOOK_URL": "https://hooks.example/T0"}
    CliRunner().invoke(generate, ["-f", spec, "--out", str(tmp_path / "a")], env=env)
    CliRunner().invoke(
        generate, ["-f", spec, "--out", str(tmp_path / "b"), "--expand-secrets"], env=env
    )
    plain = (tmp_path / "a/alertmanager/alertmanager.yml").read_text()
    clear = (tmp_path / "b/alertmanager/alertmanager.yml").read_text()
    assert "https://hooks.example/T0" not in plain
    assert "api_url: https://hooks.example/T0" in clear


def test_test_says_clearly_when_tools_are_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    result = CliRunner().invoke(spec_cmds.test, ["-f", str(EXAMPLES / "minimal.yaml")])
    assert result.exit_code == 0, result.output
    assert "SKIPPED promtool: not installed (apt-get install prometheus)" in result.output
    assert (
        "SKIPPED amtool: not installed (apt-get install prometheus-alertmanager)" in result.output
    )


def test_test_needs_exactly_one_source() -> None:
    result = CliRunner().invoke(spec_cmds.test, [])
    assert result.exit_code == 2
    assert "exactly one of -f SPEC or --dir DIR" in result.output


def test_generate_removes_stale_generated_files_only(tmp_path: Path) -> None:
    spec = tmp_path / "watchkeeper.yaml"
    spec.write_text("service: a\n")
    assert (
        CliRunner().invoke(generate, ["-f", str(spec), "--out", str(tmp_path / "out")]).exit_code
        == 0
    )
    mine = tmp_path / "out/runbooks/Mine.md"
    mine.write_text("hand-written\n")
    spec.write_text("service: a\nalerts: {HighCPU: {enabled: false}}\n")
    result = CliRunner().invoke(generate, ["-f", str(spec), "--out", str(tmp_path / "out")])
    assert "removed stale runbooks/HighCPU.md" in result.output
    assert not (tmp_path / "out/runbooks/HighCPU.md").exists()
    assert mine.exists()


@pytest.mark.skipif(shutil.which("promtool") is None, reason="needs Debian's prometheus")
def test_test_runs_promtool_and_amtool(tmp_path: Path) -> None:
    spec = tmp_path / "watchkeeper.yaml"
    # The traffic alerts need a day of test history; leave them out for speed.
    spec.write_text(
        "service: a\nalerts: {TrafficSpike: {enabled: false}, TrafficDrop: {enabled: false}}\n"
    )
    result = CliRunner().invoke(spec_cmds.test, ["-f", str(spec)])
    assert result.exit_code == 0, result.output
    for name in ("promtool check config", "promtool test rules", "amtool check-config"):
        assert f"ok      {name}" in result.output
