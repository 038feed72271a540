"""Go RE2 patterns are translated into equivalent Python patterns."""

from __future__ import annotations

import re

import pytest

from watchkeeper.monitor.promql.regex import go_regex


@pytest.mark.parametrize(
    ("pattern", "matches", "rejects"),
    [
        ("(?i)foo", ["foo", "FOO", "fOo"], ["bar"]),
        ("a(?i)b|c", ["ab", "aB", "c", "C"], ["Ab", "ac"]),
        ("((?i)PRO).*", ["production", "PROD"], ["canary"]),
        ("[[:alpha:]]+", ["abcXYZ"], ["abc1"]),
        ("[^[:digit:]]+", ["abc"], ["a1"]),
        ("[[:xdigit:]]{2}", ["fF", "09"], ["fg"]),
        ("\\Q.*\\E", [".*"], ["ab"]),
        ("(?<n>a)b", ["ab"], ["b"]),
        ("(?is)a.b", ["A\nB"], ["a\n\nb"]),
        ("plain|text", ["plain", "text"], ["plaintext"]),
    ],
)
def test_translation_keeps_re2_meaning(
    pattern: str, matches: list[str], rejects: list[str]
) -> None:
    compiled = re.compile(f"^(?:{go_regex(pattern)})$", re.DOTALL)
    for s in matches:
        assert compiled.match(s), (pattern, s)
    for s in rejects:
        assert not compiled.match(s), (pattern, s)


def test_compatible_patterns_are_untouched() -> None:
    for pattern in ["a.*b", "x|y", "[a-z]+", "(a)(b)", "(?:a)", "(?i:a)b"]:
        assert go_regex(pattern) == pattern


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        (r"\w+", "hello_1", True),
        (r"\w+", "héllo", False),  # RE2's \w is ASCII
        (r"\d+", "٣", False),  # an Arabic-Indic digit is no \d in RE2
        (r"\s", "\u00a0", False),  # nor is a no-break space \s
        (r"[\w-]+", "a-b_c", True),
        (r"\W", "é", True),
        (r"(?i)zürich", "ZÜRICH", True),  # while case folding stays Unicode
    ],
)
def test_perl_classes_are_ascii_like_re2(pattern: str, value: str, matches: bool) -> None:
    assert (re.fullmatch(go_regex(pattern), value) is not None) is matches
