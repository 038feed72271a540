"""``watchkeeper up --remote-write``: the flags become the monitor's remote write configs
(``serve`` is replaced to capture the config, as in tests/cli/test_monitor_cmds.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from watchkeeper.cli import monitor_cmds
from watchkeeper.monitor.server import MonitorConfig


def _up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[int, str, list[MonitorConfig]]:
    seen: list[MonitorConfig] = []
    monkeypatch.setattr(monitor_cmds, "serve", lambda config, on_listening: seen.append(config))
    monkeypatch.delenv("WATCHKEEPER_TOKEN", raising=False)
    result = CliRunner().invoke(monitor_cmds.up, ["--data-dir", str(tmp_path / "d"), *args])
    return result.exit_code, result.output, seen


def test_repeatable_urls_and_a_bearer_token_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = tmp_path / "token"
    token.write_text("s3cret-token\n", encoding="utf-8")
    code, output, seen = _up(
        tmp_path,
        monkeypatch,
        *("--remote-write", "http://127.0.0.1:9090/api/v1/write"),
        *("--remote-write", "https://vm.example:8428/api/v1/write"),
        *("--remote-write-bearer-token-file", str(token)),
    )
    assert code == 0, output
    (config,) = seen
    assert [c.url for c in config.remote_write] == [
        "http://127.0.0.1:9090/api/v1/write",
        "https://vm.example:8428/api/v1/write",
    ]
    assert {c.bearer_token for c in config.remote_write} == {"s3cret-token"}
    assert "s3cret" not in output


def test_no_flag_no_remote_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, output, seen = _up(tmp_path, monkeypatch)
    assert code == 0, output
    assert seen[0].remote_write == []


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--remote-write", "127.0.0.1:9090/api/v1/write"], "expected http(s)://HOST"),
        (["--remote-write", "ftp://bob:hunter2@127.0.0.1/api/v1/write"], "expected http(s)://"),
        (
            [
                "--remote-write",
                "http://bob:hunter2@127.0.0.1/w",
                "--remote-write-bearer-token-file",
            ],
            "use one",
        ),
    ],
)
def test_bad_flags_say_what_to_fix_without_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], problem: str
) -> None:
    if args[-1] == "--remote-write-bearer-token-file":
        token = tmp_path / "token"
        token.write_text("t", encoding="utf-8")
        args = [*args, str(token)]
    code, output, seen = _up(tmp_path, monkeypatch, *args)
    assert code == 2
    assert seen == []
    assert "--remote-write" in output
    assert problem in output
    assert "hunter2" not in output


def test_an_empty_token_file_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token = tmp_path / "token"
    token.write_text("\n", encoding="utf-8")
    code, output, _ = _up(
        tmp_path,
        monkeypatch,
        *("--remote-write", "http://127.0.0.1:9090/api/v1/write"),
        *("--remote-write-bearer-token-file", str(token)),
    )
    assert code == 2
    assert "is empty; write the token into it" in output
