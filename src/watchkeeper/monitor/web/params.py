"""Parse the HTTP API's parameters exactly as Prometheus does (web/api/v1/api.go).

Times are unix seconds (float) or RFC3339; durations are Prometheus durations
(``5m``, ``1h30m``) or float seconds. Every failure raises ``ParamError`` with
Prometheus' message, which the API turns into a ``bad_data`` response.
"""

from __future__ import annotations

import math
import re
from datetime import datetime

import promql_parser

from watchkeeper.monitor.model import Matcher, MatchType

__all__ = [
    "MAX_TIME_MS",
    "MIN_TIME_MS",
    "ParamError",
    "parse_duration_ms",
    "parse_matchers",
    "parse_time_ms",
]

# Prometheus' minTime/maxTime (the widest range its API accepts); clients such as
# Grafana send their RFC3339 spellings below to mean "unbounded".
MIN_TIME_MS = (-(2**63) // 1000 + 1 + 62135596801) * 1000
MAX_TIME_MS = ((2**63 - 1) // 1000 - 62135596801) * 1000 + 999
_SPECIAL = {
    "-292273086-05-16T16:47:06Z": MIN_TIME_MS,
    "292277025-08-18T07:12:54.999999999Z": MAX_TIME_MS,
}

_DURATION_RE = re.compile(
    r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$"
)
_UNIT_MS = (365 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000, 1)
_MAX_DURATION_MS = (2**63 - 1) // 1_000_000


class ParamError(ValueError):
    """A request parameter could not be parsed; the message is Prometheus' wording."""


def parse_time_ms(text: str, name: str) -> int:
    """A ``time``/``start``/``end`` parameter in milliseconds."""
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if math.isfinite(seconds):
            # Prometheus keeps millisecond precision (math.Round on the fraction).
            whole = math.trunc(seconds)
            return int(whole) * 1000 + round((seconds - whole) * 1000)
    if text in _SPECIAL:
        return _SPECIAL[text]
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise ParamError(f'invalid parameter "{name}": cannot parse "{text}" to a valid timestamp')
    return round(parsed.timestamp() * 1000)


def parse_duration_ms(text: str, name: str) -> int:
    """A ``step``/``timeout``/``--retention`` value in milliseconds."""
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds) or abs(seconds * 1000) > _MAX_DURATION_MS:
            raise ParamError(
                f'invalid parameter "{name}": cannot parse "{text}" to a valid duration. '
                "It overflows int64"
            )
        return round(seconds * 1000)
    match = _DURATION_RE.match(text)
    if text in ("", "0") or match is None:
        raise ParamError(f'invalid parameter "{name}": cannot parse "{text}" to a valid duration')
    return sum(int(g) * unit for g, unit in zip(match.groups(), _UNIT_MS, strict=True) if g)


_OPS = {
    "Equal": MatchType.EQUAL,
    "NotEqual": MatchType.NOT_EQUAL,
    "Re": MatchType.REGEX,
    "NotRe": MatchType.NOT_REGEX,
}


def parse_matchers(selector: str) -> list[Matcher]:
    """A ``match[]`` series selector (``up{job="api"}``) as model matchers."""
    try:
        expr = promql_parser.parse(selector)
    except ValueError as exc:
        raise ParamError(f'invalid parameter "match[]": {exc}') from None
    if not isinstance(expr, promql_parser.VectorSelector):
        raise ParamError(
            f'invalid parameter "match[]": {selector!r} is not a series selector; '
            'use a metric name and/or label matchers such as up{job="api"}'
        )
    matchers: list[Matcher] = []
    if expr.name:
        matchers.append(Matcher.of("__name__", MatchType.EQUAL, expr.name))
    for m in expr.matchers.matchers:
        op = str(m.op).rsplit(".", 1)[-1]
        matchers.append(Matcher.of(m.name, _OPS[op], m.value))
    return matchers
