"""Running promqltest commands against the engine and comparing like Prometheus' runner."""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from watchkeeper.errors import QueryError
from watchkeeper.monitor.model import Labels
from watchkeeper.monitor.promql.engine import Engine
from watchkeeper.monitor.promql.mathutil import almost_equal
from watchkeeper.monitor.promql.promqltest.dsl import (
    Clear,
    Command,
    Eval,
    Load,
    TestFileError,
    parse_test,
)
from watchkeeper.monitor.promql.value import Matrix, Scalar, String, Value, Vector
from watchkeeper.monitor.storage.memory import MemoryStorage

__all__ = ["EPSILON", "CaseResult", "main", "run_file", "run_test"]

# Prometheus' promqltest tolerance: relative 1e-6, NaN equal to NaN.
EPSILON = 1e-6


@dataclass(slots=True)
class CaseResult:
    where: str
    expr: str
    ok: bool
    message: str = ""


def run_test(commands: Sequence[Command], name: str = "<test>") -> list[CaseResult]:
    storage = MemoryStorage()
    engine = Engine(storage)
    results: list[CaseResult] = []
    for cmd in commands:
        if isinstance(cmd, Clear):
            storage.clear()
        elif isinstance(cmd, Load):
            _load(storage, cmd)
        else:
            where = f"{name}:{cmd.line}"
            try:
                message = _run_eval(engine, cmd)
            except Exception as exc:  # a crash in the engine is a failed case, not a stop
                message = f"unexpected {type(exc).__name__}: {exc}"
            results.append(CaseResult(where, cmd.expr, message == "", message))
    return results


def _load(storage: MemoryStorage, cmd: Load) -> None:
    for labels, values in cmd.series:
        for i, v in enumerate(values):
            if v is not None:
                storage.append(labels, i * cmd.step_ms, v)


def _run_eval(engine: Engine, cmd: Eval) -> str:
    try:
        if cmd.instant:
            result: Value = engine.instant_query(cmd.expr, cmd.time_ms)
        else:
            result = engine.range_query(cmd.expr, cmd.start_ms, cmd.end_ms, cmd.step_ms)
    except QueryError as exc:
        if not cmd.fail:
            return f"unexpected error: {exc}"
        if cmd.fail_message is not None and str(exc) != cmd.fail_message:
            return f"expected error {cmd.fail_message!r}, got {str(exc)!r}"
        if cmd.fail_regexp is not None and not re.search(cmd.fail_regexp, str(exc)):
            return f"expected error matching {cmd.fail_regexp!r}, got {str(exc)!r}"
        return ""
    if cmd.fail:
        return f"expected an error, got {_show(result)}"
    if cmd.instant:
        return _compare_instant(cmd, result) or _check_range_mode(engine, cmd, result)
    assert isinstance(result, Matrix)
    return _compare_range(cmd, result)


def _check_range_mode(engine: Engine, cmd: Eval, instant: Value) -> str:
    """Like Prometheus' runner: the middle step of a t-1m..t+1m range query must match."""
    if not isinstance(instant, Scalar | Vector):
        return ""
    if "start()" in cmd.expr or "end()" in cmd.expr:
        return ""  # these name the query's bounds, which differ by design in range mode
    t = cmd.time_ms
    matrix = engine.range_query(cmd.expr, t - 60_000, t + 60_000, 60_000)
    got: dict[Labels, float] = {}
    for s in matrix.series:
        for ts, v in s.points:
            if ts == t:
                got[s.labels] = v
    want: dict[Labels, float] = (
        {(): instant.value}
        if isinstance(instant, Scalar)
        else {s.labels: s.value for s in instant.samples}
    )
    same = set(got) == set(want) and all(almost_equal(want[k], got[k], EPSILON) for k in want)
    if same:
        return ""
    lines = "\n".join(f"    {_lbl(k)} {v!r}" for k, v in got.items()) or "    (empty)"
    return f"range-mode result at {t}ms differs from the instant result\n  range mode:\n{lines}"


def _fmt(v: float | None) -> str:
    return "_" if v is None else repr(v)


def _show(result: Value) -> str:
    if isinstance(result, Scalar | String):
        return (
            f"scalar {result.value!r}" if isinstance(result, Scalar) else f"string {result.value!r}"
        )
    if isinstance(result, Vector):
        return (
            "\n".join(f"    {_lbl(s.labels)} {s.value!r}" for s in result.samples) or "    (empty)"
        )
    return (
        "\n".join(
            f"    {_lbl(s.labels)} " + " ".join(f"{v!r}@{t}" for t, v in s.points)
            for s in result.series
        )
        or "    (empty)"
    )


def _lbl(labels: Labels) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in labels) + "}"


def _expected_text(cmd: Eval) -> str:
    lines = []
    for e in cmd.expected:
        if e.string is not None:
            lines.append(f"    string {e.string!r}")
        elif e.labels is None:
            lines.append(f"    scalar {_fmt(e.values[0])}")
        else:
            lines.append(f"    {_lbl(e.labels)} " + " ".join(_fmt(v) for v in e.values))
    return "\n".join(lines) or "    (empty)"


def _mismatch(cmd: Eval, result: Value, why: str) -> str:
    return f"{why}\n  expected:\n{_expected_text(cmd)}\n  got:\n{_show(result)}"


def _equal(expected: float | None, got: float) -> bool:
    return expected is not None and almost_equal(expected, got, EPSILON)


def _compare_instant(cmd: Eval, result: Value) -> str:
    if isinstance(result, String):
        exp = cmd.expected
        if len(exp) != 1 or exp[0].string != result.value:
            return _mismatch(cmd, result, "string result differs")
        return ""
    if isinstance(result, Scalar):
        exp = cmd.expected
        if len(exp) != 1 or exp[0].labels is not None or not exp[0].values:
            return _mismatch(cmd, result, "expected a vector, got a scalar")
        if not _equal(exp[0].values[0], result.value):
            return _mismatch(cmd, result, "scalar value differs")
        return ""
    if isinstance(result, Matrix):
        return _compare_matrix_instant(cmd, result)
    if any(e.labels is None for e in cmd.expected):
        return _mismatch(cmd, result, "expected a scalar, got a vector")
    expected = {e.labels: e for e in cmd.expected if e.labels is not None}
    if len(expected) != len(result.samples):
        return _mismatch(
            cmd, result, f"expected {len(expected)} samples, got {len(result.samples)}"
        )
    for i, s in enumerate(result.samples):
        e = expected.get(s.labels)
        if e is None:
            return _mismatch(cmd, result, f"unexpected series {_lbl(s.labels)}")
        if len(e.values) != 1 or not _equal(e.values[0], s.value):
            return _mismatch(cmd, result, f"value of {_lbl(s.labels)} differs")
        if cmd.ordered and cmd.expected[i].labels != s.labels:
            return _mismatch(cmd, result, f"order differs at position {i}")
    return ""


def _compare_matrix_instant(cmd: Eval, result: Matrix) -> str:
    """An instant query of a range vector: each series' samples in the window.

    With ``expect range vector from A to B step S`` the expected values sit at
    A, A+S, ..., B (``_`` for none); without it only the values are compared.
    """
    expected = {e.labels: e for e in cmd.expected if e.labels is not None}
    got = [s for s in result.series if s.points]
    if len(expected) != len(got):
        return _mismatch(cmd, result, f"expected {len(expected)} series, got {len(got)}")
    for s in got:
        e = expected.get(s.labels)
        if e is None:
            return _mismatch(cmd, result, f"unexpected series {_lbl(s.labels)}")
        if cmd.range_vector is not None:
            start, _, step = cmd.range_vector
            want = {start + i * step: v for i, v in enumerate(e.values) if v is not None}
            have = dict(s.points)
            if set(want) != set(have) or not all(_equal(want[t], v) for t, v in have.items()):
                return _mismatch(cmd, result, f"samples of {_lbl(s.labels)} differ")
            continue
        values = [v for v in e.values if v is not None]
        if len(values) != len(s.points) or not all(
            _equal(w, v) for w, (_, v) in zip(values, s.points, strict=True)
        ):
            return _mismatch(cmd, result, f"values of {_lbl(s.labels)} differ")
    return ""


def _compare_range(cmd: Eval, result: Matrix) -> str:
    # A scalar expectation for a range query is a series without labels.
    expected = {(() if e.labels is None else e.labels): e for e in cmd.expected}
    got = [s for s in result.series if s.points]
    if len(expected) != len(got):
        return _mismatch(cmd, result, f"expected {len(expected)} series, got {len(got)}")
    for s in got:
        found = expected.get(s.labels)
        if found is None:
            return _mismatch(cmd, result, f"unexpected series {_lbl(s.labels)}")
        want = {
            cmd.start_ms + i * cmd.step_ms: v for i, v in enumerate(found.values) if v is not None
        }
        have = dict(s.points)
        if set(want) != set(have):
            return _mismatch(cmd, result, f"timestamps of {_lbl(s.labels)} differ")
        for t, v in have.items():
            if not _equal(want[t], v):
                return _mismatch(cmd, result, f"value of {_lbl(s.labels)} at {t}ms differs")
    return ""


def run_file(path: str | Path) -> list[CaseResult]:
    p = Path(path)
    return run_test(parse_test(p.read_text(encoding="utf-8"), str(p)), str(p))


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print("usage: python -m watchkeeper.monitor.promql.promqltest FILE...", file=sys.stderr)
        return 2
    passed = failed = 0
    for path in args:
        try:
            results = run_file(path)
        except (OSError, TestFileError) as exc:
            print(f"{path}: {exc}")
            failed += 1
            continue
        for r in results:
            if r.ok:
                passed += 1
            else:
                failed += 1
                print(f"FAIL {r.where}: {r.expr}\n  {r.message}\n")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0
