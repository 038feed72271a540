"""Probe conditions in Gatus' syntax: ``[STATUS] == 200``, ``[RESPONSE_TIME] < 300ms``,
``[BODY].status == "healthy"``, ``[CERTIFICATE_EXPIRATION] > 48h``, ``[CONNECTED] == true``.

A condition is ``LEFT OPERATOR RIGHT``: the left side a placeholder (optionally wrapped
in ``len()`` or ``has()``), the operator one of ``== != < <= > >=``, the right side a
literal: a number, a duration (``300ms``, ``48h``; for the time placeholders, which are
milliseconds as in Gatus), ``true``/``false``, a quoted or bare string, ``pat(*glob*)``
or ``any(a, b, ...)``. Parsing is pure and fails with a :class:`ConditionError` naming the
condition, the column and the fix, so a bad condition is refused at load time, never at
3 a.m. by a probe that silently fails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "OPERATORS",
    "PLACEHOLDERS",
    "Condition",
    "ConditionError",
    "Literal_",
    "PathStep",
    "parse_condition",
]

Operator = Literal["==", "!=", "<", "<=", ">", ">="]
# Two-character operators first, so "<=" is never read as "<" followed by "=".
OPERATORS: tuple[Operator, ...] = ("==", "!=", "<=", ">=", "<", ">")
PLACEHOLDERS = ("STATUS", "RESPONSE_TIME", "BODY", "CERTIFICATE_EXPIRATION", "CONNECTED")
_TIME_PLACEHOLDERS = ("RESPONSE_TIME", "CERTIFICATE_EXPIRATION")
_MAX_CONDITION_CHARS = 1000
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)$")
_DURATION_MS = {"ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3, "d": 86400e3}
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?$")
_PATH_STEP = re.compile(r"\.([A-Za-z0-9_\-$@]+)|\[(\d+)\]")

PathStep = str | int  # a key into an object or an index into an array
Function = Literal["", "len", "has"]


class ConditionError(ValueError):
    """A condition that cannot be parsed; the message says where and how to fix it."""


@dataclass(frozen=True, slots=True)
class Literal_:
    """The right side. ``kind`` says how to compare: a number (durations are converted to
    milliseconds), a bool, a string, a glob pattern (``pat``) or a set (``any``)."""

    kind: Literal["number", "bool", "string", "pattern", "any"]
    text: str
    number: float | None = None
    choices: tuple[Literal_, ...] = ()


@dataclass(frozen=True, slots=True)
class Condition:
    text: str
    placeholder: str  # one of PLACEHOLDERS
    path: tuple[PathStep, ...]  # JSON path into [BODY]; () for the whole body
    function: Function
    operator: Operator
    right: Literal_
    left_text: str  # both sides as written, to show a result the way the user wrote it
    right_text: str


def _error(text: str, column: int, problem: str, fix: str) -> ConditionError:
    return ConditionError(f"condition {text!r} (column {column}): {problem}; {fix}")


def _split(text: str) -> tuple[str, Operator, str, int]:
    """The first operator outside quotes, brackets and parentheses."""
    depth, quote, i = 0, "", 0
    while i < len(text):
        ch = text[i]
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        elif depth == 0:
            for op in OPERATORS:
                if text.startswith(op, i):
                    return text[:i], op, text[i + len(op) :], i + 1
            if ch in "=!":
                raise _error(
                    text, i + 1, f"{ch!r} is not an operator", "use one of == != < <= > >="
                )
        i += 1
    raise _error(
        text, 1, "no comparison operator", 'write LEFT OPERATOR RIGHT, e.g. "[STATUS] == 200"'
    )


def _left(text: str, raw: str) -> tuple[str, tuple[PathStep, ...], Function]:
    side = raw.strip()
    column = len(raw) - len(raw.lstrip()) + 1
    function: Function = ""
    for name in ("len", "has"):
        if side.startswith(f"{name}(") and side.endswith(")"):
            function = "len" if name == "len" else "has"
            side, column = side[len(name) + 1 : -1].strip(), column + len(name) + 1
    match = re.match(r"^\[([A-Z_]+)\]", side)
    if match is None:
        raise _error(
            text,
            column,
            f"the left side {side!r} is not a placeholder",
            "put one of " + ", ".join(f"[{p}]" for p in PLACEHOLDERS) + " on the left",
        )
    name = match.group(1)
    if name not in PLACEHOLDERS:
        raise _error(
            text,
            column,
            f"unknown placeholder [{name}]",
            "use one of " + ", ".join(f"[{p}]" for p in PLACEHOLDERS),
        )
    rest, path = side[match.end() :], []
    pos = 0
    while pos < len(rest):
        step = _PATH_STEP.match(rest, pos)
        if step is None:
            raise _error(
                text,
                column + match.end() + pos,
                f"bad JSON path {rest[pos:]!r}",
                'write .key or [index] steps, e.g. "[BODY].data[0].status"',
            )
        path.append(step.group(1) if step.group(1) is not None else int(step.group(2)))
        pos = step.end()
    if path and name != "BODY":
        raise _error(text, column, f"[{name}] has no fields", "only [BODY] takes a JSON path")
    if function and name != "BODY":
        raise _error(text, column, f"{function}() applies to [BODY] only", f"drop {function}()")
    return name, tuple(path), function


def _literal(text: str, raw: str, column: int, placeholder: str) -> Literal_:
    value = raw.strip()
    if not value:
        raise _error(text, column, "nothing to compare with", "add a value after the operator")
    if value.startswith("pat(") and value.endswith(")"):
        return Literal_("pattern", value[4:-1])
    if value.startswith("any(") and value.endswith(")"):
        items = [v for v in value[4:-1].split(",") if v.strip()]
        if not items:
            raise _error(text, column, "any() is empty", "list values, e.g. any(200, 201)")
        return Literal_(
            "any", value, choices=tuple(_literal(text, v, column, placeholder) for v in items)
        )
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return Literal_("string", value[1:-1])
    if value in ("true", "false"):
        return Literal_("bool", value)
    if _NUMBER.match(value):
        return Literal_("number", value, float(value))
    duration = _DURATION.match(value)
    if duration is not None:
        if placeholder not in _TIME_PLACEHOLDERS:
            raise _error(
                text,
                column,
                f"a duration ({value}) compares only with [RESPONSE_TIME] or "
                "[CERTIFICATE_EXPIRATION]",
                "compare a number",
            )
        return Literal_("number", value, float(duration.group(1)) * _DURATION_MS[duration[2]])
    return Literal_("string", value)


def parse_condition(text: str) -> Condition:
    """Parse one condition; raise :class:`ConditionError` saying what is wrong and where."""
    if len(text) > _MAX_CONDITION_CHARS:
        raise ConditionError(
            f"condition {text[:40]!r}...: longer than {_MAX_CONDITION_CHARS} characters"
        )
    left, op, right, op_column = _split(text)
    placeholder, path, function = _left(text, left)
    column = op_column + len(op) + len(right) - len(right.lstrip())
    literal = _literal(text, right, column, placeholder)
    choices = literal.choices or (literal,)
    if literal.kind in ("pattern", "any") and op not in ("==", "!="):
        raise _error(text, op_column, f"{op} does not work with pat() or any()", "use == or !=")
    numeric = placeholder in ("STATUS", *_TIME_PLACEHOLDERS) or function == "len"
    if numeric and literal.kind != "pattern" and any(c.kind != "number" for c in choices):
        what = f"{function}()" if function else f"[{placeholder}]"
        raise _error(
            text, column, f"{what} is a number, but {right.strip()!r} is not", "compare a number"
        )
    boolean = placeholder == "CONNECTED" or function == "has"
    if boolean and (literal.kind != "bool" or op not in ("==", "!=")):
        what = "has()" if function == "has" else "[CONNECTED]"
        raise _error(text, column, f"{what} is true or false", f"write {what} == true")
    if op not in ("==", "!=") and literal.kind != "number":
        raise _error(text, op_column, f"{op} compares numbers only", "use == or != for text")
    return Condition(text, placeholder, path, function, op, literal, left.strip(), right.strip())
