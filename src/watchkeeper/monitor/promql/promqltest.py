"""Prometheus' promqltest text format and its runner.

Run: ``python -m watchkeeper.monitor.promql.promqltest FILE...``.

The format (promql/promqltest in Prometheus)::

    load 5m
      http_requests{job="api", instance="0"}  0+10x10  _  stale  1 2 3

    eval instant at 50m sum by (job) (http_requests)
      {job="api"} 100

    eval range from 0 to 10m step 5m http_requests
      http_requests{job="api", instance="0"} 0 50 100

    eval_fail instant at 0m rate(http_requests)
      expected_fail_message expected type range vector in call to function "rate", ...

    clear

Values use the expanding notation: ``a+bxN`` / ``a-bxN`` (N+1 values), ``axN``,
``_`` (no sample), ``_xN``, ``stale`` (a staleness marker). Expected values are
compared as Prometheus does: relative tolerance 1e-6, NaN equal to NaN.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import promql_parser as pp

from watchkeeper.errors import QueryError
from watchkeeper.monitor.model import STALE_NAN, Labels, labels_from
from watchkeeper.monitor.promql.engine import Engine
from watchkeeper.monitor.promql.mathutil import almost_equal
from watchkeeper.monitor.promql.parser import parse_duration
from watchkeeper.monitor.promql.value import Matrix, Scalar, String, Value, Vector
from watchkeeper.monitor.storage.memory import MemoryStorage

__all__ = [
    "Clear",
    "Eval",
    "Expected",
    "Load",
    "TestFileError",
    "expand_values",
    "main",
    "parse_series_line",
    "parse_test",
    "run_file",
    "run_test",
]

EPSILON = 1e-6


class TestFileError(ValueError):
    """The test file itself is malformed (not a failing case)."""

    __test__ = False  # not a pytest class


# -- the DSL -------------------------------------------------------------------------

_NUM = r"[+-]?(?:Inf|inf|NaN|nan|0x[0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
_SERIES_ITEM = re.compile(rf"^(?P<a>{_NUM})(?:(?P<op>[+-])(?P<b>{_NUM}))?x(?P<n>\d+)$")
_GAP_ITEM = re.compile(r"^_x(?P<n>\d+)$")


def _number(text: str) -> float:
    t = text.strip()
    try:
        return float(t)
    except ValueError:
        pass
    sign = -1.0 if t.startswith("-") else 1.0
    body = t.lstrip("+-")
    if body.lower().startswith("0x"):
        return sign * float(int(body, 16))
    raise TestFileError(f"invalid number {text!r}")


def expand_values(items: Sequence[str]) -> list[float | None]:
    """Expand the value notation; ``None`` is a missing sample (``_``)."""
    out: list[float | None] = []
    for item in items:
        if item == "_":
            out.append(None)
            continue
        if item == "stale":
            out.append(STALE_NAN)
            continue
        gap = _GAP_ITEM.match(item)
        if gap:
            out.extend([None] * int(gap["n"]))
            continue
        m = _SERIES_ITEM.match(item)
        if m:
            a = _number(m["a"])
            n = int(m["n"])
            if m["op"] is None:
                out.extend([a] * (n + 1))
                continue
            b = _number(m["b"])
            if m["op"] == "-":
                b = -b
            value = a
            out.append(value)
            for _ in range(n):
                value += b
                out.append(value)
            continue
        out.append(_number(item))
    return out


def _split_metric(line: str) -> tuple[str, str]:
    """Split ``metric{labels} rest`` into its selector and the rest, honouring quotes."""
    text = line.strip()
    brace = text.find("{")
    space = re.search(r"\s", text)
    if brace == -1 or (space is not None and space.start() < brace):
        if space is None:
            return text, ""
        return text[: space.start()], text[space.start() :].strip()
    in_quote = False
    i = brace + 1
    while i < len(text):
        c = text[i]
        if in_quote:
            if c == "\\":
                i += 2
                continue
            if c == '"':
                in_quote = False
        elif c == '"':
            in_quote = True
        elif c == "}":
            return text[: i + 1], text[i + 1 :].strip()
        i += 1
    raise TestFileError(f"unterminated label set in {line!r}")


def _labels_of(selector: str) -> Labels:
    if selector.strip() == "{}":
        return ()
    try:
        raw = pp.parse(selector)
    except ValueError as exc:
        raise TestFileError(f"invalid series {selector!r}: {exc}") from None
    if not isinstance(raw, pp.VectorSelector):
        raise TestFileError(f"invalid series {selector!r}")
    pairs = [(m.name, m.value) for m in raw.matchers.matchers]
    if raw.name is not None:
        pairs.append(("__name__", raw.name))
    return labels_from(pairs)


def parse_series_line(line: str) -> tuple[Labels, list[float | None]]:
    """``metric{a="b"} 1+1x3 _ stale`` -> (labels, expanded values)."""
    selector, rest = _split_metric(line)
    return _labels_of(selector), expand_values(rest.split())


@dataclass(slots=True)
class Load:
    line: int
    step_ms: int
    series: list[tuple[Labels, list[float | None]]] = field(default_factory=list)


@dataclass(slots=True)
class Clear:
    line: int


@dataclass(slots=True)
class Expected:
    """One expected result line: a series (labels + values), or a bare scalar/string."""

    labels: Labels | None  # None: a scalar or string result
    values: list[float | None]
    string: str | None = None


@dataclass(slots=True)
class Eval:
    line: int
    expr: str
    instant: bool
    time_ms: int = 0  # instant
    start_ms: int = 0  # range
    end_ms: int = 0
    step_ms: int = 0
    ordered: bool = False
    fail: bool = False
    fail_message: str | None = None
    fail_regexp: str | None = None
    expected: list[Expected] = field(default_factory=list)


Command = Load | Clear | Eval

_EVAL_INSTANT = re.compile(
    r"^eval(?P<kind>_fail|_ordered|_warn|_info)?\s+instant\s+at\s+(?P<at>\S+)\s+(?P<expr>.+)$"
)
_EVAL_RANGE = re.compile(
    r"^eval(?P<kind>_fail|_ordered|_warn|_info)?\s+range\s+from\s+(?P<start>\S+)\s+to\s+(?P<end>\S+)"
    r"\s+step\s+(?P<step>\S+)\s+(?P<expr>.+)$"
)


def _duration(text: str, where: str) -> int:
    neg = text.startswith("-")
    try:
        ms = parse_duration(text.lstrip("-"))
    except QueryError:
        raise TestFileError(f"{where}: invalid time {text!r}") from None
    return -ms if neg else ms


def parse_test(text: str, name: str = "<test>") -> list[Command]:
    """Parse a promqltest file into commands; raises ``TestFileError`` on malformed input."""
    commands: list[Command] = []
    current: Load | Eval | None = None
    for lineno, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        where = f"{name}:{lineno}"
        if not line or line.startswith("#"):
            if not line and isinstance(current, Eval | Load):
                current = None
            continue
        is_command = line == "clear" or line.split()[0].startswith(("load", "eval"))
        if current is not None and not is_command:
            _body_line(current, line, where)
            continue
        current = None
        if line == "clear":
            commands.append(Clear(lineno))
            continue
        if line.startswith("load"):
            parts = line.split()
            if len(parts) != 2 or parts[0] not in ("load", "load_with_nhcb"):
                raise TestFileError(f"{where}: expected 'load <step>', got {line!r}")
            current = Load(lineno, _duration(parts[1], where))
            commands.append(current)
            continue
        if line.startswith("eval"):
            current = _eval_header(line, lineno, where)
            commands.append(current)
            continue
        raise TestFileError(f"{where}: unknown command {line!r}")
    return commands


def _eval_header(line: str, lineno: int, where: str) -> Eval:
    m = _EVAL_INSTANT.match(line)
    if m:
        cmd = Eval(lineno, m["expr"].strip(), True, time_ms=_duration(m["at"], where))
    else:
        m = _EVAL_RANGE.match(line)
        if not m:
            raise TestFileError(f"{where}: invalid eval command {line!r}")
        cmd = Eval(
            lineno,
            m["expr"].strip(),
            False,
            start_ms=_duration(m["start"], where),
            end_ms=_duration(m["end"], where),
            step_ms=_duration(m["step"], where),
        )
    kind = m["kind"]
    cmd.fail = kind == "_fail"
    cmd.ordered = kind == "_ordered"
    return cmd


def _body_line(cmd: Load | Eval, line: str, where: str) -> None:
    if isinstance(cmd, Load):
        cmd.series.append(parse_series_line(line))
        return
    if line.startswith("expected_fail_message"):
        cmd.fail_message = line[len("expected_fail_message") :].strip()
        return
    if line.startswith("expected_fail_regexp"):
        cmd.fail_regexp = line[len("expected_fail_regexp") :].strip()
        return
    if line.startswith("expect ") or line == "expect":
        _expect_line(cmd, line[len("expect ") :], where)
        return
    if line.startswith('"'):
        cmd.expected.append(Expected(None, [], string=_unquote(line)))
        return
    if re.fullmatch(_NUM, line):
        cmd.expected.append(Expected(None, [_number(line)]))
        return
    labels, values = parse_series_line(line)
    cmd.expected.append(Expected(labels, values))


def _expect_line(cmd: Eval, text: str, where: str) -> None:
    """The newer ``expect ...`` lines: ``fail [msg: ...|regex: ...]``, ``ordered``, ``string``."""
    if text == "string" or text.startswith("string "):
        cmd.expected.append(Expected(None, [], string=text[len("string ") :]))
    elif text == "ordered":
        cmd.ordered = True
    elif text.startswith("fail"):
        cmd.fail = True
        rest = text[len("fail") :].strip()
        if rest.startswith("msg:"):
            cmd.fail_message = rest[len("msg:") :].strip()
        elif rest.startswith("regex:"):
            cmd.fail_regexp = rest[len("regex:") :].strip()
    elif text.split()[:1] and text.split()[0] in ("warn", "no_warn", "info", "no_info"):
        return  # annotations are not modelled
    else:
        raise TestFileError(f"{where}: unsupported expectation {text!r}")


def _unquote(text: str) -> str:
    body = text.strip()
    if len(body) < 2 or body[0] != '"' or body[-1] != '"':
        raise TestFileError(f"invalid string {text!r}")
    return bytes(body[1:-1], "utf-8").decode("unicode_escape")


# -- running -------------------------------------------------------------------------


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
    """An instant query of a range selector: expected lines list the values in the window."""
    expected = {e.labels: e for e in cmd.expected if e.labels is not None}
    if len(expected) != len(result.series):
        return _mismatch(cmd, result, "series count differs")
    for s in result.series:
        e = expected.get(s.labels)
        if e is None:
            return _mismatch(cmd, result, f"unexpected series {_lbl(s.labels)}")
        want = [v for v in e.values if v is not None]
        if len(want) != len(s.points) or not all(
            _equal(w, v) for w, (_, v) in zip(want, s.points, strict=True)
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


if __name__ == "__main__":
    sys.exit(main())
