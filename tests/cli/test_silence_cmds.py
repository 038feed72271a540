"""``watchkeeper silence add|list|expire`` against a real ``watchkeeper up`` process."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from tests.support.prometheus import free_port
from tests.support.watchkeeper import watchkeeper_up
from watchkeeper.cli.silence_cmds import silence

pytestmark = pytest.mark.slow


def test_add_list_expire_against_a_running_monitor(tmp_path: Path) -> None:
    runner = CliRunner()
    with watchkeeper_up(tmp_path / "data", "--token", "cli-t0ken") as (url, _):
        base = ["--url", url, "--token", "cli-t0ken"]
        added = runner.invoke(
            silence,
            [
                *base,
                "add",
                "alertname=DiskFull",
                'instance=~"db-.*"',
                "-c",
                "swap disks",
                "-a",
                "ana",
                "-d",
                "2h",
            ],
        )
        assert added.exit_code == 0, added.output
        silence_id = added.output.strip()
        listed = runner.invoke(silence, [*base, "list"])
        assert listed.exit_code == 0, listed.output
        assert silence_id in listed.output
        assert 'alertname="DiskFull" instance=~"db-.*"' in listed.output
        assert "ana" in listed.output
        assert "swap disks" in listed.output
        # The silence mutes what it matches, and only that.
        auth = {"Authorization": "Bearer cli-t0ken"}
        alerts = [
            {"labels": {"alertname": "DiskFull", "instance": "db-1"}},
            {"labels": {"alertname": "DiskFull", "instance": "web-1"}},
        ]
        assert httpx.post(f"{url}/api/v2/alerts", json=alerts, headers=auth).status_code == 200
        states = {
            a["labels"]["instance"]: a["status"]["state"]
            for a in httpx.get(f"{url}/api/v2/alerts", headers=auth).json()
        }
        assert states == {"db-1": "suppressed", "web-1": "active"}
        expired = runner.invoke(silence, [*base, "expire", silence_id])
        assert expired.exit_code == 0, expired.output
        assert f"expired {silence_id}" in expired.output
        assert runner.invoke(silence, [*base, "list", "-q"]).output.strip() == ""
        everything = runner.invoke(silence, [*base, "list", "--expired", "-q"])
        assert everything.output.split() == [silence_id]
        # Errors say what to fix.
        unauthorized = runner.invoke(silence, ["--url", url, "list"])
        assert unauthorized.exit_code == 1
        assert "WATCHKEEPER_TOKEN" in unauthorized.output
        again = runner.invoke(silence, [*base, "expire", silence_id])
        assert again.exit_code == 1
        assert "already expired" in again.output


def test_bad_input_and_no_monitor() -> None:
    runner = CliRunner()
    bad = runner.invoke(silence, ["add", "alertname", "-c", "x"])
    assert bad.exit_code == 2
    assert "is not a matcher" in bad.output
    duration = runner.invoke(silence, ["add", "a=b", "-c", "x", "-d", "soon"])
    assert duration.exit_code == 2
    assert "is not a duration" in duration.output
    nobody = runner.invoke(silence, ["--url", f"http://127.0.0.1:{free_port()}", "list"])
    assert nobody.exit_code == 1
    assert "no answer" in nobody.output
