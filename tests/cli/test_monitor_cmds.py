"""``watchkeeper tsdb import``, ``query`` and ``up`` through click's CliRunner."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from watchkeeper.cli import monitor_cmds
from watchkeeper.monitor.server import MonitorConfig

OPENMETRICS = """\
# TYPE http_requests counter
http_requests_total{code="200"} 1 1700000000.500
http_requests_total{code="200"} 31 1700000030.500
http_requests_total{code="200"} 61 1700000060.500
http_requests_total{code="500"} 2 1700000000.500
# TYPE queue_depth gauge
queue_depth 0.25 1700000050.250
# EOF
"""


@pytest.fixture
def imported(tmp_path: Path) -> Path:
    source = tmp_path / "data.om"
    source.write_text(OPENMETRICS, encoding="utf-8")
    data_dir = tmp_path / "tsdb"
    result = CliRunner().invoke(
        monitor_cmds.tsdb, ["import", "--data-dir", str(data_dir), str(source)]
    )
    assert result.exit_code == 0, result.output
    assert "5 samples, 3 series, 0 rejected" in result.output
    return data_dir


def test_import_then_instant_query(imported: Path) -> None:
    result = CliRunner().invoke(
        monitor_cmds.query,
        [
            "--data-dir",
            str(imported),
            "--time",
            "1700000061",
            "sum by (code) (http_requests_total)",
        ],
    )
    assert result.exit_code == 0, result.output
    assert '{code="200"}' in result.output
    assert "61" in result.output
    assert '{code="500"}' in result.output


def test_range_query_prints_every_point(imported: Path) -> None:
    args = ["--data-dir", str(imported), "--start", "1700000040", "--end", "1700000100"]
    result = CliRunner().invoke(monitor_cmds.query, [*args, "--step", "30s", "queue_depth * 4"])
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.output.splitlines()[1:]]
    # The only sample is at 22:14:10.250: the 22:14:00 step sees nothing yet.
    assert [row[-2:] for row in rows] == [
        ["2023-11-14T22:14:30.000Z", "1"],
        ["2023-11-14T22:15:00.000Z", "1"],
    ]


def test_query_errors_are_reported(imported: Path) -> None:
    result = CliRunner().invoke(monitor_cmds.query, ["--data-dir", str(imported), "sum(("])
    assert result.exit_code == 1
    assert "bad_data" in result.output
    result = CliRunner().invoke(
        monitor_cmds.query, ["--data-dir", str(imported), "--time", "1", "--step", "1s", "up"]
    )
    assert result.exit_code == 2
    assert "not both" in result.output


def test_query_needs_exactly_one_source(tmp_path: Path) -> None:
    result = CliRunner().invoke(monitor_cmds.query, ["up"])
    assert result.exit_code == 2
    assert "either --data-dir DIR or --url URL" in result.output
    both = ["--data-dir", str(tmp_path), "--url", "http://127.0.0.1:1", "up"]
    assert CliRunner().invoke(monitor_cmds.query, both).exit_code == 2


def test_query_url_unreachable() -> None:
    # Port 1 on loopback: nothing listens there, so the connection is refused.
    result = CliRunner().invoke(monitor_cmds.query, ["--url", "http://127.0.0.1:1", "up"])
    assert result.exit_code == 1
    assert "no answer from a Prometheus-compatible API" in result.output


def test_query_missing_data_dir(tmp_path: Path) -> None:
    result = CliRunner().invoke(monitor_cmds.query, ["--data-dir", str(tmp_path / "nope"), "up"])
    assert result.exit_code == 1
    assert "no such data directory" in result.output


def test_import_reports_bad_lines(tmp_path: Path) -> None:
    source = tmp_path / "bad.om"
    source.write_text("# TYPE x gauge\nx 1\n# EOF\n", encoding="utf-8")
    result = CliRunner().invoke(
        monitor_cmds.tsdb, ["import", "--data-dir", str(tmp_path / "d"), str(source)]
    )
    assert result.exit_code == 1
    assert "timestamp" in result.output


def test_up_on_other_addresses_generates_and_prints_a_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[MonitorConfig] = []

    def fake_serve(config: MonitorConfig, *, on_listening: object) -> None:
        seen.append(config)
        assert callable(on_listening)
        on_listening("http://0.0.0.0:9099")

    monkeypatch.setattr(monitor_cmds, "serve", fake_serve)
    monkeypatch.delenv("WATCHKEEPER_TOKEN", raising=False)
    result = CliRunner().invoke(
        monitor_cmds.up,
        [
            "--data-dir",
            str(tmp_path),
            "--listen",
            "0.0.0.0:9099",
            "--target",
            "api=http://127.0.0.1:1/metrics",
        ],
    )
    assert result.exit_code == 0, result.output
    (config,) = seen
    assert config.token
    assert config.token in result.output
    assert config.targets[0].job == "api"
    assert config.retention_seconds == 15 * 86400


def test_up_on_loopback_needs_no_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[MonitorConfig] = []
    monkeypatch.setattr(monitor_cmds, "serve", lambda config, on_listening: seen.append(config))
    monkeypatch.delenv("WATCHKEEPER_TOKEN", raising=False)
    result = CliRunner().invoke(
        monitor_cmds.up, ["--data-dir", str(tmp_path), "--retention-size", "1GB"]
    )
    assert result.exit_code == 0, result.output
    assert seen[0].token is None
    assert seen[0].retention_bytes == 1 << 30
    assert seen[0].targets == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--listen", "nowhere"], "expected HOST:PORT"),
        (["--target", "no-equals-sign"], "expected JOB=URL"),
        (["--retention", "forever"], "is not a duration"),
        (["--retention-size", "lots"], "is not a size"),
        (["--probe", "no-equals-sign"], "expected JOB=URL such as api=https://"),
        (["--probe", "db=tcp://no-port"], "a tcp probe needs host:port"),
        (["--probe-condition", "[STATUS] == 200"], "expected JOB=CONDITION"),
    ],
)
def test_up_rejects_bad_flags(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(monitor_cmds.up, ["--data-dir", str(tmp_path), *args])
    assert result.exit_code == 2
    assert message in result.output


def test_up_builds_probes_and_their_conditions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[MonitorConfig] = []
    monkeypatch.setattr(monitor_cmds, "serve", lambda config, on_listening: seen.append(config))
    result = CliRunner().invoke(
        monitor_cmds.up,
        [
            "--data-dir", str(tmp_path), "--scrape-interval", "5s",
            "--target", "api=http://127.0.0.1:1/metrics", "--no-health-probes",
            "--probe", "site=https://example.com/health",
            "--probe", "db=tcp://127.0.0.1:5432",
            "--probe-condition", "site=[STATUS] == 200",
            "--probe-condition", "site=[RESPONSE_TIME] < 300ms",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (config,) = seen
    assert [(p.job, p.module, p.target, p.interval_s) for p in config.probes] == [
        ("site", "http", "https://example.com/health", 5.0),
        ("db", "tcp", "127.0.0.1:5432", 5.0),
    ]
    assert config.probe_conditions == {"site": ["[STATUS] == 200", "[RESPONSE_TIME] < 300ms"]}
    assert [t.health_path for t in config.targets] == [None]


def test_missing_monitor_extra_gives_an_install_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # import uvicorn now fails
    result = CliRunner().invoke(monitor_cmds.query, ["--data-dir", str(tmp_path), "up"])
    assert result.exit_code == 1
    assert "pip install 'watchkeeper[monitor]'" in result.output
