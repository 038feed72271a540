"""Runs every promqltest file under testdata/ (one test per case) and tests the DSL parser."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from watchkeeper.monitor.model import STALE_NAN, is_stale_nan
from watchkeeper.monitor.promql.promqltest import (
    Clear,
    Eval,
    Load,
    TestFileError,
    expand_values,
    main,
    parse_series_line,
    parse_test,
    run_file,
    run_test,
)

TESTDATA = Path(__file__).parent / "testdata"
FILES = sorted(TESTDATA.glob("*.test"))


def _cases() -> list[tuple[Path, int]]:
    out = []
    for path in FILES:
        for cmd in parse_test(path.read_text(encoding="utf-8"), str(path)):
            if isinstance(cmd, Eval):
                out.append((path, cmd.line))
    return out


@pytest.fixture(scope="module")
def results() -> dict[str, tuple[bool, str]]:
    out: dict[str, tuple[bool, str]] = {}
    for path in FILES:
        for r in run_file(path):
            out[r.where] = (r.ok, f"{r.expr}\n{r.message}")
    return out


def test_testdata_present() -> None:
    assert len(FILES) >= 9


@pytest.mark.parametrize(
    ("path", "line"), _cases(), ids=[f"{p.stem}:{line}" for p, line in _cases()]
)
def test_case(path: Path, line: int, results: dict[str, tuple[bool, str]]) -> None:
    ok, message = results[f"{path}:{line}"]
    assert ok, message


def test_expand_values_notation() -> None:
    assert expand_values(["1+2x3"]) == [1.0, 3.0, 5.0, 7.0]
    assert expand_values(["10-1x2"]) == [10.0, 9.0, 8.0]
    assert expand_values(["5x2"]) == [5.0, 5.0, 5.0]
    assert expand_values(["_", "_x2", "1"]) == [None, None, None, 1.0]
    assert expand_values(["-1+-1x1"]) == [-1.0, -2.0]
    assert expand_values(["1e3", "-Inf", "2.5"]) == [1000.0, -math.inf, 2.5]
    nan, stale = expand_values(["NaN", "stale"])
    assert nan is not None
    assert math.isnan(nan)
    assert not is_stale_nan(nan)
    assert stale is not None
    assert is_stale_nan(stale)


def test_parse_series_line_with_quoted_braces() -> None:
    labels, values = parse_series_line('m{a="x}y", b="1 2"} 1 2')
    assert labels == (("__name__", "m"), ("a", "x}y"), ("b", "1 2"))
    assert values == [1.0, 2.0]
    labels, values = parse_series_line("{} 3")
    assert labels == ()
    assert values == [3.0]


def test_parse_test_commands() -> None:
    text = """
load 5m
  m{a="b"} 0+1x2

# comment
eval instant at 10m m
  m{a="b"} 2

eval_fail instant at 0 rate(m)
  expected_fail_message bad

eval_ordered range from 0 to 10m step 5m m
  m{a="b"} 0 1 2

clear
"""
    cmds = parse_test(text)
    assert isinstance(cmds[0], Load)
    assert cmds[0].step_ms == 300_000
    assert cmds[0].series[0][1] == [0.0, 1.0, 2.0]
    ev = cmds[1]
    assert isinstance(ev, Eval)
    assert ev.instant
    assert ev.time_ms == 600_000
    fail = cmds[2]
    assert isinstance(fail, Eval)
    assert fail.fail
    assert fail.fail_message == "bad"
    rng = cmds[3]
    assert isinstance(rng, Eval)
    assert not rng.instant
    assert rng.ordered
    assert (rng.start_ms, rng.end_ms, rng.step_ms) == (0, 600_000, 300_000)
    assert isinstance(cmds[4], Clear)


def test_bad_file_is_reported() -> None:
    with pytest.raises(TestFileError):
        parse_test("frobnicate 5m\n")


def test_runner_reports_failures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "x.test"
    f.write_text("load 1m\n  m 1 2\n\neval instant at 1m m\n  m 3\n\neval instant at 1m m\n  m 2\n")
    assert main([str(f)]) == 1
    out = capsys.readouterr().out
    assert f"{f}:4" in out
    assert out.rstrip().endswith("1 passed, 1 failed")


def test_runner_stale_loads_marker() -> None:
    cmds = parse_test("load 1m\n  m 1 stale\n\neval instant at 1m m\n")
    assert [r.ok for r in run_test(cmds)] == [True]
    assert is_stale_nan(STALE_NAN)
