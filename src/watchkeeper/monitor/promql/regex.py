"""Translate Go RE2 regular expressions (what PromQL users write) into Python ``re`` syntax.

Most RE2 syntax means the same in Python. The differences that matter in label
matchers and ``label_replace``:

- flag groups: RE2 applies ``(?i)`` to the rest of the enclosing group, anywhere;
  Python only accepts global flags at the very start of a pattern, and matchers
  are anchored as ``^(?:...)$``, so even a leading ``(?i)`` would be rejected.
  Each flag group becomes a scoped ``(?i:...)`` closed at the end of its group
  (and re-opened after every ``|`` of that group, since RE2 flags cross them);
- POSIX classes inside brackets (``[[:alpha:]]``) and ``\\z``, ``\\Q...\\E``;
- ``(?<name>...)`` named groups (Python needs ``(?P<name>...)``);
- ``\\w \\d \\s`` and their negations are ASCII-only in RE2 and Unicode in Python:
  they become explicit ASCII classes. (Python's ``re.ASCII`` flag would do that too,
  but it would also make ``(?i)`` ASCII-only, and RE2 folds case in Unicode.)
"""

from __future__ import annotations

import re

__all__ = ["go_regex"]

_FLAG_GROUP = re.compile(r"\(\?([imsU-]+)\)")

# RE2's Perl classes, outside and inside a bracket expression.
_PERL_CLASSES = {
    "w": "[0-9A-Za-z_]",
    "W": "[^0-9A-Za-z_]",
    "d": "[0-9]",
    "D": "[^0-9]",
    "s": "[\\t\\n\\f\\r ]",
    "S": "[^\\t\\n\\f\\r ]",
}
_PERL_IN_CLASS = {"w": "0-9A-Za-z_", "d": "0-9", "s": "\\t\\n\\f\\r "}

_POSIX = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7F",
    "blank": "\\t ",
    "cntrl": "\\x00-\\x1F\\x7F",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z",
    "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}


def go_regex(pattern: str) -> str:
    """An equivalent Python pattern for an RE2 ``pattern`` (unchanged when already compatible)."""
    if not any(tok in pattern for tok in ("(?", "[:", "\\")):
        return pattern
    out: list[str] = []
    # Per open group: the flag strings opened inside it (closed when it closes).
    flags: list[list[str]] = [[]]
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            nxt = pattern[i + 1 : i + 2]
            if nxt == "z":
                out.append("\\Z")
                i += 2
            elif nxt in _PERL_CLASSES:
                out.append(_PERL_CLASSES[nxt])
                i += 2
            elif nxt == "Q":
                end = pattern.find("\\E", i + 2)
                stop = n if end < 0 else end
                out.append(re.escape(pattern[i + 2 : stop]))
                i = n if end < 0 else end + 2
            else:
                out.append(pattern[i : i + 2])
                i += 2
            continue
        if c == "[":
            i = _char_class(pattern, i, out)
            continue
        if c == "(":
            m = _FLAG_GROUP.match(pattern, i)
            if m is not None:
                out.append(f"(?{m.group(1)}:")
                flags[-1].append(m.group(1))
                i = m.end()
                continue
            if pattern.startswith("(?<", i) and not pattern.startswith(("(?<=", "(?<!"), i):
                out.append("(?P<")
                i += 3
            else:
                out.append("(")
                i += 1
            flags.append([])
            continue
        if c == "|" and flags[-1]:
            out.append(")" * len(flags[-1]) + "|" + "".join(f"(?{f}:" for f in flags[-1]))
            i += 1
            continue
        if c == ")" and len(flags) > 1:
            out.append(")" * len(flags.pop()) + ")")
            i += 1
            continue
        out.append(c)
        i += 1
    out.append(")" * len(flags[0]))
    return "".join(out)


def _char_class(pattern: str, start: int, out: list[str]) -> int:
    """Copy a bracket expression, expanding POSIX classes; returns the index after it."""
    i = start + 1
    out.append("[")
    if pattern.startswith("^", i):
        out.append("^")
        i += 1
    if pattern.startswith("]", i):  # a leading ']' is literal in RE2
        out.append("\\]")
        i += 1
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            nxt = pattern[i + 1 : i + 2]
            # \W \D \S inside a class stay Unicode (rare; no simple ASCII spelling)
            out.append(_PERL_IN_CLASS.get(nxt) or pattern[i : i + 2])
            i += 2
            continue
        if c == "[" and pattern.startswith("[:", i):
            end = pattern.find(":]", i + 2)
            name = pattern[i + 2 : end] if end >= 0 else ""
            if name in _POSIX:
                out.append(_POSIX[name])
                i = end + 2
                continue
        if c == "[":
            out.append("\\[")  # a literal '[' inside a class; Python warns about nested sets
            i += 1
            continue
        out.append(c)
        i += 1
        if c == "]":
            return i
    return i
