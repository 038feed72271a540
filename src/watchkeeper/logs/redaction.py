"""Redaction: secrets in log fields become ``"[REDACTED]"`` before a line is written.

Two ways a secret is recognised, both configurable:

- by its **key**, case-insensitively, ignoring separators and case style, so
  ``password``, ``db_password``, ``dbPassword``, ``X-Api-Key`` and ``APIKey`` all
  match. Rules of six letters or more (``password``, ``api_key`` …) match anywhere
  inside the key; shorter rules (``token``) must be whole words of the key, so
  ``access_token`` and ``tokenValue`` are redacted but ``prompt_tokens`` (a count
  every LLM app logs) is not.
- by its **value**: strings that contain a bearer token, a JWT, a ``key=value``
  assignment of a secret-named key, or a card number (13-19 digits starting with
  2-6, Luhn-valid: order ids and epoch milliseconds pass untouched) have the
  matching part replaced.

Key decisions are cached (keys repeat on every line). Values are scanned by one
combined regular expression, and only when long enough to hold a match.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = [
    "DEFAULT_KEYS",
    "DEFAULT_PATTERNS",
    "REDACTED",
    "Pattern",
    "Redactor",
    "luhn_valid",
]

REDACTED = "[REDACTED]"

DEFAULT_KEYS: frozenset[str] = frozenset({
    "authorization", "cookie", "set-cookie", "password", "passwd", "secret", "token",
    "api_key", "apikey", "access_key", "private_key",
})  # fmt: skip

_SUBSTRING_MIN = 6  # rules this long match anywhere inside a key; shorter ones as whole words
_CACHE_MAX = 4_096
_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def _words(key: str) -> tuple[str, ...]:
    return tuple(w.lower() for w in _WORDS.findall(key))


def _squash(key: str) -> str:
    return "".join(_words(key))


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum every payment card number satisfies (and 9 in 10 random numbers fail)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


@dataclass(frozen=True, slots=True)
class Pattern:
    """A value pattern: ``regex`` finds candidates, ``replace(match_text)`` says what
    they become (default: ``"[REDACTED]"``; return the text unchanged to keep it)."""

    name: str
    regex: str
    replace: Callable[[str], str] | None = None


def _card(text: str) -> str:
    digits = text.replace(" ", "").replace("-", "")
    return REDACTED if luhn_valid(digits) else text


_ASSIGNMENT_SPLIT = re.compile(r"[:=]\s*[\"']?")


def _assignment(text: str) -> str:
    # keep "password=" and redact only what follows it
    sep = _ASSIGNMENT_SPLIT.search(text)
    return text if sep is None else text[: sep.end()] + REDACTED


DEFAULT_PATTERNS: tuple[Pattern, ...] = (
    Pattern("bearer", r"(?i:bearer)\s+[A-Za-z0-9\-._~+/]{8,}=*"),
    Pattern("jwt", r"eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*"),
    Pattern(
        "assignment",
        r"(?i:\b(?:password|passwd|secret|token|api_?key|access_?key|private_?key)"
        r"[\"']?\s*[:=]\s*[\"']?)[^\s\"',;&]+",
        _assignment,
    ),
    Pattern("card", r"(?<![\d])[2-6](?:[ -]?\d){12,18}(?!\d)", _card),
)

# No match of a default pattern is shorter than this: shorter strings skip the scan.
_MIN_MATCH = 13


class Redactor:
    """Decides which keys and values are secrets; pure apart from its key cache.

    ``Redactor()`` has the defaults. Add: ``Redactor(keys=DEFAULT_KEYS | {"ssn"})``;
    remove: ``Redactor(keys=DEFAULT_KEYS - {"token"})``; patterns likewise, as
    ``Pattern`` objects or plain regular expressions (whose matches are redacted).
    """

    def __init__(
        self,
        keys: Iterable[str] = DEFAULT_KEYS,
        patterns: Iterable[Pattern | str | re.Pattern[str]] = DEFAULT_PATTERNS,
    ) -> None:
        self.keys = frozenset(k for k in keys)
        self._rules_words = [_words(k) for k in self.keys if _words(k)]
        self._rules_squashed = [
            s for s in (_squash(k) for k in self.keys) if len(s) >= _SUBSTRING_MIN
        ]
        self._key_cache: dict[object, bool] = {}
        ours: list[Pattern] = []
        self._extra: list[re.Pattern[str]] = []
        for i, p in enumerate(patterns):
            if isinstance(p, Pattern):
                ours.append(p)
            else:
                try:
                    self._extra.append(re.compile(p) if isinstance(p, str) else p)
                except re.error as exc:
                    from watchkeeper.errors import ConfigurationError

                    raise ConfigurationError(
                        f"redaction pattern #{i} {p!r} is not a valid regular expression: "
                        f"{exc}; fix or remove it"
                    ) from None
        self.patterns: tuple[Pattern | re.Pattern[str], ...] = (*ours, *self._extra)
        self._replacers = {f"p{i}": p.replace for i, p in enumerate(ours)}
        combined = "|".join(f"(?P<p{i}>{p.regex})" for i, p in enumerate(ours))
        self._search = re.compile(combined).search if combined else None
        self._sub = re.compile(combined).sub if combined else None
        # Only our own defaults are known to need at least _MIN_MATCH characters.
        defaults = all(p in DEFAULT_PATTERNS for p in ours) and not self._extra
        self._min_len = _MIN_MATCH if defaults else 1

    def is_secret_key(self, key: object) -> bool:
        found = self._key_cache.get(key)
        if found is None:
            found = self._match_key(str(key))
            if len(self._key_cache) >= _CACHE_MAX:
                self._key_cache.clear()  # bounded: pathological key churn cannot grow it
            self._key_cache[key] = found
        return found

    def _match_key(self, key: str) -> bool:
        words = _words(key)
        squashed = "".join(words)
        if any(rule in squashed for rule in self._rules_squashed):
            return True
        n = len(words)
        for rule in self._rules_words:
            m = len(rule)
            for start in range(n - m + 1):
                if words[start : start + m] == rule:
                    return True
        return False

    def text(self, text: str) -> str:
        """``text`` with every secret-looking part replaced."""
        if len(text) < self._min_len:
            return text
        if self._search is not None and self._search(text) is not None:
            assert self._sub is not None
            text = self._sub(self._replace, text)
        for regex in self._extra:
            text = regex.sub(REDACTED, text)
        return text

    def _replace(self, match: re.Match[str]) -> str:
        replace = self._replacers[match.lastgroup or ""]
        return REDACTED if replace is None else replace(match.group())
