"""Evaluating parsed conditions against what one probe observed.

Each result carries the resolved value next to the condition, the way Gatus shows it
(``[STATUS] (503) == 200``), so a failing probe says which condition failed and why.
"""

from __future__ import annotations

import fnmatch
import json
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from watchkeeper.monitor.probe.conditions import Condition, Literal_

__all__ = ["ConditionResult", "Observation", "evaluate", "evaluate_all"]

_SHOWN_CHARS = 80  # resolved values are shown truncated: bodies can be large
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@dataclass(frozen=True, slots=True)
class Observation:
    """What a probe saw. ``status`` is None when no HTTP response arrived; ``cert_not_after``
    (Unix seconds) is the certificate's expiry when a TLS handshake completed."""

    connected: bool
    response_time_ms: float
    now: float
    status: int | None = None
    body: bytes | None = None
    cert_not_after: float | None = None
    error: str = ""
    _json: list[Any] = field(default_factory=list, compare=False, repr=False)

    def json(self) -> Any:
        """The body parsed as JSON (once); raises ValueError when it is not JSON."""
        if not self._json:
            self._json.append(json.loads(self.body or b""))
        return self._json[0]


@dataclass(frozen=True, slots=True)
class ConditionResult:
    condition: str
    success: bool
    detail: str  # the condition with the value it saw, e.g. "[STATUS] (503) == 200"


class _Missing(Exception):
    """The left side has no value (no response, no certificate, no such field)."""


def _shown(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        text = value
    elif isinstance(value, int | float):
        text = str(value)
    else:
        text = json.dumps(value, separators=(",", ":"), sort_keys=True)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


def _body_value(condition: Condition, obs: Observation) -> Any:
    if obs.body is None:
        raise _Missing("no body")
    if not condition.path and condition.function != "has":
        return obs.body.decode("utf-8", errors="replace")
    try:
        value = obs.json()
    except ValueError:
        raise _Missing("body is not JSON") from None
    for step in condition.path:
        in_list = isinstance(step, int) and isinstance(value, list) and step < len(value)
        if not (in_list or (isinstance(value, dict) and step in value)):
            raise _Missing("no such field")
        value = value[step]
    return value


def _left(condition: Condition, obs: Observation) -> Any:
    name = condition.placeholder
    if name == "CONNECTED":
        return obs.connected
    if name == "RESPONSE_TIME":
        return round(obs.response_time_ms, 3)
    if name == "STATUS":
        if obs.status is None:
            raise _Missing("no response")
        return obs.status
    if name == "CERTIFICATE_EXPIRATION":
        if obs.cert_not_after is None:
            raise _Missing("no certificate")
        return round((obs.cert_not_after - obs.now) * 1000)
    if condition.function == "has":
        try:
            _body_value(condition, obs)
        except _Missing:
            return False
        return True
    value = _body_value(condition, obs)
    if condition.function == "len":
        return len(value) if isinstance(value, str | list | dict) else len(_shown(value))
    return value


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _matches(value: Any, op: str, right: Literal_) -> bool:
    if right.kind == "any":
        hit = any(_matches(value, "==", choice) for choice in right.choices)
        return hit if op == "==" else not hit
    if right.kind == "pattern":
        hit = fnmatch.fnmatchcase(
            _shown(value) if not isinstance(value, str) else value, right.text
        )
        return hit if op == "==" else not hit
    if right.kind == "number":
        number = _as_number(value)
        return number is not None and _COMPARE[op](number, right.number)
    if right.kind == "bool":
        text = json.dumps(value) if isinstance(value, bool) else str(value)
        return _COMPARE[op](text, right.text)
    text = value if isinstance(value, str) else _shown(value)
    return _COMPARE[op](text, right.text)


def evaluate(condition: Condition, obs: Observation) -> ConditionResult:
    try:
        value = _left(condition, obs)
    except _Missing as missing:
        detail = f"{condition.left_text} ({missing}) {condition.operator} {condition.right_text}"
        return ConditionResult(condition.text, False, detail)
    success = _matches(value, condition.operator, condition.right)
    detail = f"{condition.left_text} ({_shown(value)}) {condition.operator} {condition.right_text}"
    return ConditionResult(condition.text, success, detail)


def evaluate_all(conditions: Sequence[Condition], obs: Observation) -> list[ConditionResult]:
    return [evaluate(c, obs) for c in conditions]
