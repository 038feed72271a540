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

Key decisions are cached (keys repeat on every line). Values are scanned only when
long enough to hold a match, and each pattern's regular expression runs only
after a cheap substring gate passed (most values hold no secret).
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
    they become (default: ``"[REDACTED]"``; return the text unchanged to keep it).

    ``gate(text)``, when given, is a cheap test (a substring check) that must pass
    before the regular expression runs at all: most log values hold no secret, and
    a substring check costs a fraction of a regex scan.
    """

    name: str
    regex: str
    replace: Callable[[str], str] | None = None
    gate: Callable[[str], bool] | None = None


def _card(text: str) -> str:
    digits = text.replace(" ", "").replace("-", "")
    return REDACTED if luhn_valid(digits) else text


_ASSIGNMENT_SPLIT = re.compile(r"[:=]\s*[\"']?")


def _assignment(text: str) -> str:
    # keep "password=" and redact only what follows it
    sep = _ASSIGNMENT_SPLIT.search(text)
    return text if sep is None else text[: sep.end()] + REDACTED


def _has_bearer(text: str) -> bool:
    return "bearer" in text.lower()  # any casing, as the pattern matches


def _has_jwt(text: str) -> bool:
    return "eyJ" in text


def _has_assignment(text: str) -> bool:
    return "=" in text or ":" in text


DEFAULT_PATTERNS: tuple[Pattern, ...] = (
    Pattern("bearer", r"(?i:bearer)\s+[A-Za-z0-9\-._~+/]{8,}=*", gate=_has_bearer),
    Pattern("jwt", r"eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*", gate=_has_jwt),
    Pattern(
        "assignment",
        r"(?i:\b(?:password|passwd|secret|token|api_?key|access_?key|private_?key)"
        r"[\"']?\s*[:=]\s*[\"']?)[^\s\"',;&]+",
        _assignment,
        _has_assignment,
    ),
    # No gate: a leading character class lets the regex engine skip ahead by itself.
    # The digit before the match is checked in _card's caller (a look-behind here would
    # cost that skip).
    Pattern("card", r"[2-6](?:[ -]?\d){12,18}(?!\d)", _card),
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
        self.key_cache: dict[object, bool] = {}
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
        self._scans = [
            (p.gate, re.compile(p.regex), _Replacer(p.replace or _redacted, p.name == "card"))
            for p in ours
        ]
        # Exactly the defaults (the common case): their gates inlined in text().
        self._defaults = tuple(ours) == DEFAULT_PATTERNS and not self._extra
        # Only our own defaults are known to need at least _MIN_MATCH characters.
        defaults = all(p in DEFAULT_PATTERNS for p in ours) and not self._extra
        self.min_length = _MIN_MATCH if defaults else 1

    def is_secret_key(self, key: object) -> bool:
        found = self.key_cache.get(key)
        if found is None:
            found = self._match_key(str(key))
            if len(self.key_cache) >= _CACHE_MAX:
                self.key_cache.clear()  # bounded: pathological key churn cannot grow it
            self.key_cache[key] = found
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
        if len(text) < self.min_length:
            return text
        scans = self._scans
        if self._defaults:  # bearer, jwt, assignment, card: gates inlined
            if "bearer" in text.lower():  # any casing: the pattern ignores case
                text = scan(scans[0], text)
            if "eyJ" in text:
                text = scan(scans[1], text)
            if "=" in text or ":" in text:
                text = scan(scans[2], text)
            card = scans[3]
            if card[1].search(text) is None:  # the usual answer, without a call
                return text
            return card[1].sub(card[2], text)
        for pattern in scans:
            gate = pattern[0]
            if gate is None or gate(text):
                text = scan(pattern, text)
        for extra in self._extra:
            text = extra.sub(REDACTED, text)
        return text


_Scan = tuple[Callable[[str], bool] | None, re.Pattern[str], "_Replacer"]


def scan(pattern: _Scan, text: str) -> str:
    """``text`` with one pattern's matches replaced (its gate already passed)."""
    regex = pattern[1]
    if regex.search(text) is None:
        return text
    return regex.sub(pattern[2], text)


def _redacted(text: str) -> str:
    return REDACTED


class _Replacer:
    """``re.sub``'s callback: a pattern's replace(), refusing matches inside a longer
    run of digits when asked (the card pattern's look-behind, done here)."""

    __slots__ = ("digits_before", "replace")

    def __init__(self, replace: Callable[[str], str], digits_before: bool) -> None:
        self.replace = replace
        self.digits_before = digits_before

    def __call__(self, match: re.Match[str]) -> str:
        start = match.start()
        if self.digits_before and start and match.string[start - 1].isdigit():
            return match.group()
        return self.replace(match.group())
