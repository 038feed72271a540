"""A fast parser for the Prometheus text format (0.0.4) and OpenMetrics 1.0 text.

Speed comes from caching, not cleverness: a target exposes the same series
every time, so each sample line is split into its *series key* (the text up to
the closing ``}``, or the bare name) and its value/timestamp, and the caller
keeps ``key -> labels`` in a dict. Label sets are parsed (with escaping) only
the first time a key is seen, by :func:`parse_series`.

Why the last ``}`` ends the label set: after it come only a value and an
optional timestamp, which never contain ``}``. OpenMetrics exemplars
(``... # {trace_id="x"} 1``) break that, so lines containing ``#`` take the
careful path that scans quoted strings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from watchkeeper.errors import WatchkeeperError
from watchkeeper.monitor.model import Labels

__all__ = [
    "ExpositionError",
    "ParsedSample",
    "Parser",
    "is_openmetrics",
    "parse_series",
]

ParsedSample = tuple[str, float, int | None]  # series key, value, timestamp ms (or None)

_NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\\n]|\\.)*)"\s*(,|\})')
_SIMPLE_PAIR_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"')
_ESCAPES = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}
_ESCAPE_RE = re.compile(r"\\[\\\"n]")
_CREATED_TYPES = frozenset(("counter", "histogram", "summary", "gaugehistogram"))
_METRIC_TYPES = frozenset(
    (
        "counter",
        "gauge",
        "histogram",
        "summary",
        "untyped",
        "unknown",
        "gaugehistogram",
        "stateset",
        "info",
    )
)


class ExpositionError(WatchkeeperError, ValueError):
    """The scraped or imported text is not valid exposition format; says which line."""

    def __init__(self, message: str, line: int = 0, where: str = "") -> None:
        location = f"{where}:{line}: " if where and line else (f"line {line}: " if line else "")
        super().__init__(f"{location}{message}")
        self.line = line


def is_openmetrics(content_type: str) -> bool:
    return content_type.strip().lower().startswith("application/openmetrics-text")


def _unescape(text: str) -> str:
    return _ESCAPE_RE.sub(lambda m: _ESCAPES[m.group(0)], text) if "\\" in text else text


def _parse_simple(key: str) -> Labels | None:
    """The common case, quickly: ``name{a="b",c="d"}`` with no escapes or spaces.

    The result is trusted only if re-joining the pairs gives back the exact text;
    anything else (escapes, spaces, trailing comma, errors) takes the careful path.
    """
    brace = key.find("{")
    if brace < 0 or "\\" in key or " " in key or key[-1] != "}":
        return None
    name = key[:brace]
    inner = key[brace + 1 : -1]
    pairs = _SIMPLE_PAIR_RE.findall(inner)
    if ",".join([f'{k}="{v}"' for k, v in pairs]) != inner or _NAME_RE.fullmatch(name) is None:
        return None
    found = dict(pairs)
    if len(found) != len(pairs) or "__name__" in found:
        return None
    found["__name__"] = name
    return tuple(sorted([(k, v) for k, v in found.items() if v]))


def parse_series(key: str, line: int = 0, where: str = "") -> Labels:
    """``name{a="b",...}`` -> canonical labels incl. ``__name__`` (sorted, empty values dropped)."""
    simple = _parse_simple(key)
    if simple is not None:
        return simple
    m = _NAME_RE.match(key)
    if m is None:
        raise ExpositionError(f"invalid metric name in {key[:80]!r}", line, where)
    pairs: dict[str, str] = {"__name__": m.group(0)}
    pos = m.end()
    while pos < len(key) and key[pos] in " \t":
        pos += 1
    if pos < len(key):
        if key[pos] != "{":
            raise ExpositionError(
                f"expected '{{' after the metric name in {key[:80]!r}", line, where
            )
        pos += 1
        rest = key[pos:].lstrip()
        if rest.startswith("}"):
            pos = len(key) - len(rest) + 1
        else:
            while True:
                lm = _LABEL_RE.match(key, pos)
                if lm is None:
                    msg = f"invalid label set at column {pos + 1} in {key[:120]!r}"
                    raise ExpositionError(msg, line, where)
                name = lm.group(1)
                if name in pairs:
                    raise ExpositionError(f"duplicate label {name!r} in {key[:120]!r}", line, where)
                pairs[name] = _unescape(lm.group(2))
                pos = lm.end()
                if lm.group(3) == "}":
                    break
                # A trailing comma before '}' is allowed.
                tail = key[pos:].lstrip()
                if tail.startswith("}"):
                    pos = len(key) - len(tail) + 1
                    break
        if key[pos:].strip():
            raise ExpositionError(f"unexpected text after the labels in {key[:120]!r}", line, where)
    return tuple(sorted((k, v) for k, v in pairs.items() if v != ""))


def _split_careful(line: str) -> tuple[str, list[str]]:
    """Split a line that may hold an exemplar: scan quotes to find the label set's end."""
    brace = line.find("{")
    space = line.find(" ")
    if brace < 0 or (0 <= space < brace and line[:brace].strip() != line[:space]):
        key, _, rest = line.partition(" ")
    else:
        i, in_quotes = brace + 1, False
        while i < len(line):
            c = line[i]
            if in_quotes:
                if c == "\\":
                    i += 1
                elif c == '"':
                    in_quotes = False
            elif c == '"':
                in_quotes = True
            elif c == "}":
                break
            i += 1
        key, rest = line[: i + 1], line[i + 1 :]
    hash_at = rest.find("#")
    if hash_at >= 0:
        rest = rest[:hash_at]  # an OpenMetrics exemplar: not stored
    return key, rest.split()


@dataclass
class Parser:
    """Parses one exposition body; remembers ``# TYPE``/``# HELP``/``# UNIT`` metadata."""

    openmetrics: bool = False
    where: str = ""
    # Prometheus 3 drops OpenMetrics ``_created`` series when scraping; promtool 2.42's
    # ``create-blocks-from openmetrics`` keeps them, so the importer turns this off.
    drop_created: bool = True
    types: dict[str, str] = field(default_factory=dict)
    helps: dict[str, str] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    saw_eof: bool = False
    lineno: int = 0  # the line of the sample last yielded, for callers' error messages

    def parse(self, text: str) -> Iterator[ParsedSample]:
        """Samples of a whole body, one by one (``lineno`` follows them)."""
        return self.parse_lines(text.split("\n"))

    def parse_lines(self, lines: Iterable[str]) -> Iterator[ParsedSample]:
        """Samples from an iterable of lines (a file), parsed in batches of 4096 lines."""
        chunk: list[str] = []
        first = 1
        for line in lines:
            chunk.append(line)
            if len(chunk) == 4096:
                yield from self._numbered(chunk, first)
                first += len(chunk)
                chunk = []
        yield from self._numbered(chunk, first)
        self.finish(first + len(chunk) - 1)

    def _numbered(self, lines: list[str], first: int) -> Iterator[ParsedSample]:
        keys, values, stamps, numbers = self._batch(lines, first, numbered=True)
        for key, value, ts, lineno in zip(keys, values, stamps, numbers, strict=True):
            self.lineno = lineno
            yield key, value, ts

    def parse_batch(self, text: str) -> tuple[list[str], list[float], list[int | None]]:
        """The fast path for a scrape: (series keys, values, timestamps) as three lists."""
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        lines = text.split("\n")
        keys, values, stamps, _ = self._batch(lines, 1, numbered=False)
        self.finish(len(lines))
        return keys, values, stamps

    def finish(self, last_line: int) -> None:
        if self.openmetrics and not self.saw_eof:
            msg = "OpenMetrics text must end with '# EOF'"
            raise ExpositionError(msg, last_line, self.where)

    def _batch(
        self, lines: list[str], first: int, *, numbered: bool
    ) -> tuple[list[str], list[float], list[int | None], list[int]]:
        keys: list[str] = []
        values: list[float] = []
        stamps: list[int | None] = []
        numbers: list[int] = []
        om = self.openmetrics
        drop_created = om and self.drop_created
        for lineno, line in enumerate(lines, first):
            if not line:
                continue
            if line[-1] == "\r":
                line = line[:-1]
            if line[0] == "#":
                self._comment(line, lineno)
                continue
            if self.saw_eof:
                raise ExpositionError("content after '# EOF'", lineno, self.where)
            # Only OpenMetrics has exemplars ("... # {...} 1"); in the text format a '#'
            # can only sit inside a label value, which the last-'}' rule already handles.
            if om and "#" in line:
                key, rest = _split_careful(line)
            elif "{" in line:
                end = line.rfind("}") + 1
                if end == 0:
                    raise ExpositionError(f"unclosed '{{' in {line[:120]!r}", lineno, self.where)
                key, rest = line[:end], line[end:].split()
            else:
                rest = line.split()
                key = rest.pop(0)
            if drop_created and "_created" in key and self._is_created(key):
                continue
            if len(rest) == 1:
                try:
                    value = float(rest[0])
                except ValueError:
                    value = self._value(rest, line, lineno)
                stamps.append(None)
            else:
                value = self._value(rest, line, lineno)
                stamps.append(self._timestamp(rest, line, lineno))
            keys.append(key)
            values.append(value)
            if numbered:
                numbers.append(lineno)
        return keys, values, stamps, numbers

    def _value(self, rest: list[str], line: str, lineno: int) -> float:
        if not rest or len(rest) > 2:
            msg = f"expected 'name{{labels}} value [timestamp]', got {line[:120]!r}"
            raise ExpositionError(msg, lineno, self.where)
        try:
            return float(rest[0])
        except ValueError:
            msg = f"invalid sample value {rest[0]!r} in {line[:120]!r}"
            raise ExpositionError(msg, lineno, self.where) from None

    def _timestamp(self, rest: list[str], line: str, lineno: int) -> int | None:
        if len(rest) < 2:
            return None
        try:
            if self.openmetrics:
                seconds = float(rest[1])
                if seconds != seconds or seconds in (float("inf"), float("-inf")):
                    raise ValueError(rest[1])
                # Truncation, exactly like Prometheus' parser: int64(ts * 1000).
                return int(seconds * 1000)
            return int(rest[1])
        except ValueError:
            unit = "seconds" if self.openmetrics else "integer milliseconds"
            msg = f"invalid timestamp {rest[1]!r} (expected {unit}) in {line[:120]!r}"
            raise ExpositionError(msg, lineno, self.where) from None

    def _is_created(self, key: str) -> bool:
        name = key.split("{", 1)[0].strip()
        return name.endswith("_created") and self.types.get(name[:-8]) in _CREATED_TYPES

    def _comment(self, line: str, lineno: int) -> None:
        if self.saw_eof:
            raise ExpositionError("content after '# EOF'", lineno, self.where)
        parts = line.split(None, 3)
        if len(parts) >= 2 and parts[0] == "#" and parts[1] == "EOF" and self.openmetrics:
            self.saw_eof = True
            return
        if len(parts) < 3 or parts[0] != "#" or parts[1] not in ("TYPE", "HELP", "UNIT"):
            if self.openmetrics and line.strip() != "#":
                # OpenMetrics has no free comments; Prometheus rejects them too.
                msg = f"unexpected comment {line[:80]!r} (only # TYPE, # HELP, # UNIT, # EOF)"
                raise ExpositionError(msg, lineno, self.where)
            return
        kind, name = parts[1], parts[2]
        arg = parts[3] if len(parts) > 3 else ""
        if kind == "TYPE":
            mtype = arg.strip()
            if mtype not in _METRIC_TYPES:
                raise ExpositionError(
                    f"unknown metric type {mtype!r} for {name}", lineno, self.where
                )
            self.types[name] = mtype
        elif kind == "HELP":
            self.helps[name] = _unescape(arg)
        else:
            unit = arg.strip()
            if unit and self.openmetrics and not name.endswith("_" + unit):
                msg = f"unit {unit!r} is not a suffix of metric {name!r}; name it {name}_{unit}"
                raise ExpositionError(msg, lineno, self.where)
            self.units[name] = unit
