"""The promqltest text format: ``load``, ``clear``, ``eval`` commands and the value notation."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import promql_parser as pp

from watchkeeper.errors import QueryError
from watchkeeper.monitor.model import STALE_NAN, Labels, labels_from
from watchkeeper.monitor.promql.parser import parse_duration

__all__ = [
    "Clear",
    "Command",
    "Eval",
    "Expected",
    "Load",
    "TestFileError",
    "expand_values",
    "parse_series_line",
    "parse_test",
]


class TestFileError(ValueError):
    """The test file itself is malformed (not a failing case)."""

    __test__ = False  # not a pytest class


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
    # ``expect range vector from A to B step S``: an instant query's range-vector
    # result, with expected values at A, A+S, ..., B.
    range_vector: tuple[int, int, int] | None = None


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


_RANGE_VECTOR = re.compile(
    r"^range vector\s+from\s+(?P<start>\S+)\s+to\s+(?P<end>\S+)\s+step\s+(?P<step>\S+)$"
)


def _expect_line(cmd: Eval, text: str, where: str) -> None:
    """The newer ``expect ...`` lines: ``fail [msg: ...|regex: ...]``, ``ordered``, ``string``."""
    if text == "string" or text.startswith("string "):
        cmd.expected.append(Expected(None, [], string=text[len("string ") :]))
    elif text == "ordered":
        cmd.ordered = True
    elif text.startswith("range vector"):
        m = _RANGE_VECTOR.match(text)
        if m is None:
            raise TestFileError(f"{where}: invalid range vector expectation {text!r}")
        cmd.range_vector = (
            _duration(m["start"], where),
            _duration(m["end"], where),
            _duration(m["step"], where),
        )
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
