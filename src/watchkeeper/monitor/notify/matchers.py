"""Alertmanager's label matchers, label fingerprints and durations.

Alertmanager 0.25 writes matchers as strings (``severity="critical"``,
``alertname=~"A|B"``, ``env!=prod``) in its config and as objects
(``{"name", "value", "isRegex", "isEqual"}``) in its API; both become the
monitor's ``Matcher`` (fully anchored regexes, as in Alertmanager).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from watchkeeper.monitor.model import Labels, Matcher, MatchType

__all__ = [
    "MatcherError",
    "fingerprint",
    "format_matcher",
    "matcher_from_api",
    "matchers_match",
    "parse_duration_ms",
    "parse_matcher",
]


class MatcherError(ValueError):
    """A matcher or duration that cannot be parsed; the message quotes it and shows the form."""


_MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$", re.DOTALL)
_ESCAPES = {"n": "\n", "\\": "\\", '"': '"'}


def _unquote(text: str, source: str) -> str:
    if not (len(text) >= 2 and text[0] == text[-1] == '"'):
        if '"' in text:
            raise MatcherError(f"matcher {source!r}: unbalanced quotes in the value")
        return text
    out: list[str] = []
    chars = iter(text[1:-1])
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, "")
            out.append(_ESCAPES.get(nxt, "\\" + nxt))
        else:
            out.append(ch)
    return "".join(out)


def parse_matcher(text: str) -> Matcher:
    """``name="value"``, ``name!="v"``, ``name=~"re"``, ``name!~"re"`` (quotes optional)."""
    match = _MATCHER.match(text)
    if match is None:
        raise MatcherError(
            f'matcher {text!r} is not of the form name="value" (operators = != =~ !~)'
        )
    name, op, raw = match.groups()
    value = _unquote(raw, text)
    try:
        return Matcher.of(name, op, value)
    except re.error as exc:
        raise MatcherError(f"matcher {text!r}: invalid regular expression: {exc}") from None


def format_matcher(m: Matcher) -> str:
    """The matcher as Alertmanager prints it (``name="value"``, escaped like OpenMetrics)."""
    value = m.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'{m.name}{m.type.value}"{value}"'


def matcher_from_api(item: Mapping[str, object], where: str) -> Matcher:
    """A matcher of Alertmanager's API v2 (``isEqual`` defaults to true)."""
    name, value = item.get("name"), item.get("value")
    if not isinstance(name, str) or not name or not isinstance(value, str):
        raise MatcherError(f"{where}: a matcher needs string 'name' and 'value', got {item!r}")
    is_regex = bool(item.get("isRegex", False))
    is_equal = bool(item.get("isEqual", True))
    kind = {
        (False, True): MatchType.EQUAL,
        (False, False): MatchType.NOT_EQUAL,
        (True, True): MatchType.REGEX,
        (True, False): MatchType.NOT_REGEX,
    }[(is_regex, is_equal)]
    try:
        return Matcher.of(name, kind, value)
    except re.error as exc:
        raise MatcherError(f"{where}: invalid regular expression {value!r}: {exc}") from None


def matchers_match(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels.get(m.name, "")) for m in matchers)


_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_SEP = 0xFF


def fingerprint(labels: Labels | Sequence[tuple[str, str]]) -> str:
    """Prometheus' label-set fingerprint (FNV-1a 64 over sorted name/value pairs) as
    Alertmanager prints it: 16 hex digits."""
    h = _FNV_OFFSET
    for name, value in sorted(labels):
        for chunk in (name.encode(), value.encode()):
            for byte in chunk:
                h = ((h ^ byte) * _FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
            h = ((h ^ _SEP) * _FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_UNIT_MS |= {"w": 7 * 86_400_000, "y": 365 * 86_400_000}


def parse_duration_ms(value: object, where: str) -> int:
    """A Prometheus duration (``500ms``, ``30s``, ``1h30m``) in milliseconds."""
    text = str(value).strip()
    if text == "0":
        return 0
    pos, total = 0, 0
    for match in _DURATION.finditer(text):
        if match.start() != pos:
            break
        total += int(match.group(1)) * _UNIT_MS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise MatcherError(f"{where}: {value!r} is not a duration such as 500ms, 30s, 5m or 4h")
    return total
