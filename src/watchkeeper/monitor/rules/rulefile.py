"""Prometheus rule files: parsing and validation, apart from evaluation (like rulefmt).

``load_rule_file(path)`` returns the file's groups or raises ``RuleFileError`` listing
every problem as ``file:line: group "g", rule 2 (alert "X"): what was wrong; fix``.
The checks are promtool's: unknown keys, exactly one of ``record``/``alert``, a valid
metric name, a parseable ``expr``, valid label names, durations, templates that
parse, no ``for``/``annotations`` on recording rules, unique group names per file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from watchkeeper.errors import QueryError, WatchkeeperError
from watchkeeper.monitor.promql.parser import parse, parse_duration
from watchkeeper.monitor.rules.template import Template, TemplateError

__all__ = [
    "GroupSpec",
    "RuleFileError",
    "RuleSpec",
    "load_rule_file",
    "parse_rule_text",
]

MAX_RULE_FILE_BYTES = 16 << 20  # a bound: rule files are small; refuse a runaway one

_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_DURATION = re.compile(r"^((\d+)y)?((\d+)w)?((\d+)d)?((\d+)h)?((\d+)m)?((\d+)s)?((\d+)ms)?$")
_GROUP_KEYS = {"name", "interval", "rules", "limit"}
_RULE_KEYS = {"record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations"}


class RuleFileError(WatchkeeperError):
    """A rule file that cannot be used; ``problems`` are located one-line messages."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True)
class RuleSpec:
    """One rule as written: ``name`` is the ``record`` or ``alert`` value."""

    kind: str  # "record" or "alert"
    name: str
    expr: str
    hold_ms: int = 0
    keep_firing_for_ms: int = 0
    labels: tuple[tuple[str, str], ...] = ()
    annotations: tuple[tuple[str, str], ...] = ()
    line: int = 0
    label_templates: tuple[tuple[str, Template], ...] = field(default=(), compare=False)
    annotation_templates: tuple[tuple[str, Template], ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class GroupSpec:
    name: str
    file: str
    rules: tuple[RuleSpec, ...]
    interval_ms: int | None = None  # None: the manager's default evaluation interval
    limit: int = 0
    line: int = 0


def _line(node: Any, key: object = None) -> int:
    """1-based line of ``node`` (or of ``key`` inside a mapping, or item inside a list)."""
    try:
        if key is not None and isinstance(node, CommentedMap):
            return int(node.lc.key(key)[0]) + 1
        if key is not None and isinstance(node, CommentedSeq):
            return int(node.lc.item(key)[0]) + 1
        return int(node.lc.line) + 1
    except (AttributeError, KeyError, IndexError, TypeError):
        return 0


def _duration_ms(value: object) -> int:
    text = str(value).strip()
    m = _DURATION.match(text)
    if not text or m is None or not any(m.groups()):
        raise ValueError(f"not a valid duration: {text!r} (use e.g. 30s, 5m, 1h30m)")
    return parse_duration(text)


class _Checker:
    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []

    def add(self, line: int, where: str, message: str) -> None:
        loc = f"{self.source}:{line}" if line else self.source
        self.problems.append(f"{loc}: {where}{': ' if where else ''}{message}")

    def group(self, node: Any, index: int, seen: set[str]) -> GroupSpec | None:
        line = _line(node)
        if not isinstance(node, Mapping):
            self.add(line, f"group {index + 1}", "must be a mapping with name, interval, rules")
            return None
        name = node.get("name")
        where = f'group "{name}"' if name else f"group {index + 1}"
        for key in node:
            if key not in _GROUP_KEYS:
                self.add(
                    _line(node, key), where, f"unknown field {key!r}; allowed: {_keys(_GROUP_KEYS)}"
                )
        if not isinstance(name, str) or not name.strip():
            self.add(line, where, "groupname must not be empty; add name: <group name>")
            name = f"group-{index + 1}"
        elif name in seen:
            self.add(line, where, f"groupname {name!r} is repeated in the same file; rename one")
        seen.add(name)
        interval_ms: int | None = None
        if node.get("interval") is not None:
            try:
                interval_ms = _duration_ms(node["interval"])
                if interval_ms <= 0:
                    raise ValueError("interval must be positive")
            except (ValueError, QueryError) as exc:
                self.add(_line(node, "interval"), where, f"interval: {exc}")
        limit = node.get("limit") or 0
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
            self.add(
                _line(node, "limit"), where, f"limit must be a non-negative integer, got {limit!r}"
            )
            limit = 0
        raw_rules = node.get("rules") or []
        if not isinstance(raw_rules, list):
            self.add(_line(node, "rules"), where, "rules must be a list of rules")
            raw_rules = []
        rules = []
        for i, raw in enumerate(raw_rules):
            rule = self.rule(raw, i, where, _line(raw_rules, i))
            if rule is not None:
                rules.append(rule)
        return GroupSpec(name, self.source, tuple(rules), interval_ms, limit, line)

    def rule(self, node: Any, index: int, group: str, line: int) -> RuleSpec | None:
        if not isinstance(node, Mapping):
            self.add(
                line,
                f"{group}, rule {index + 1}",
                "must be a mapping with record or alert and expr",
            )
            return None
        line = _line(node) or line
        record, alert = node.get("record"), node.get("alert")
        kind = "record" if record is not None else "alert"
        name = str(record if record is not None else alert or "")
        where = (
            f'{group}, rule {index + 1} ({kind} "{name}")' if name else f"{group}, rule {index + 1}"
        )
        before = len(self.problems)
        for key in node:
            if key not in _RULE_KEYS:
                self.add(
                    _line(node, key), where, f"unknown field {key!r}; allowed: {_keys(_RULE_KEYS)}"
                )
        if record is not None and alert is not None:
            self.add(line, where, "only one of 'record' and 'alert' must be set")
        if record is None and alert is None:
            self.add(line, where, "one of 'record' or 'alert' must be set")
        if record is not None and not _METRIC_NAME.match(str(record)):
            self.add(
                _line(node, "record"),
                where,
                f"invalid recording rule name {record!r}; "
                "use a metric name such as job:http_requests:rate5m",
            )
        if alert is not None and not str(alert).strip():
            self.add(_line(node, "alert"), where, "alert name must not be empty")
        expr = node.get("expr")
        if not isinstance(expr, str) or not expr.strip():
            self.add(line, where, "field 'expr' must be set in rule (a PromQL expression)")
            expr = ""
        else:
            try:
                parse(expr)
            except QueryError as exc:
                self.add(_line(node, "expr"), where, f"could not parse expression: {exc}")
        if kind == "record":
            for key in ("for", "keep_firing_for", "annotations"):
                if node.get(key) is not None:
                    self.add(
                        _line(node, key),
                        where,
                        f"invalid field {key!r} in recording rule; only alerting rules have it",
                    )
        hold = self._duration(node, "for", where)
        keep = self._duration(node, "keep_firing_for", where)
        labels = self._pairs(node, "labels", where)
        annotations = self._pairs(node, "annotations", where)
        if kind == "record" and any(k == "__name__" for k, _ in labels):
            self.add(
                _line(node, "labels"), where, "a recording rule may not set __name__ in labels"
            )
        label_templates = self._templates(node, "labels", labels, where, name)
        annotation_templates = self._templates(node, "annotations", annotations, where, name)
        if len(self.problems) != before:
            return None
        return RuleSpec(
            kind, name, expr, hold, keep, labels, annotations, line,
            label_templates, annotation_templates,
        )  # fmt: skip

    def _duration(self, node: Mapping[str, Any], key: str, where: str) -> int:
        value = node.get(key)
        if value is None:
            return 0
        try:
            return _duration_ms(value)
        except (ValueError, QueryError) as exc:
            self.add(_line(node, key), where, f"{key}: {exc}")
            return 0

    def _pairs(self, node: Mapping[str, Any], key: str, where: str) -> tuple[tuple[str, str], ...]:
        value = node.get(key)
        if value is None:
            return ()
        if not isinstance(value, Mapping):
            self.add(_line(node, key), where, f"{key} must be a mapping of name: value")
            return ()
        out = []
        for k, v in value.items():
            if not _LABEL_NAME.match(str(k)):
                self.add(
                    _line(value, k),
                    where,
                    f"invalid {key[:-1]} name {k!r}; use [a-zA-Z_][a-zA-Z0-9_]*",
                )
            if isinstance(v, Mapping | list):
                self.add(_line(value, k), where, f"{key[:-1]} {k!r} must be a string")
                continue
            out.append((str(k), "" if v is None else _scalar(v)))
        return tuple(sorted(out))

    def _templates(
        self,
        node: Mapping[str, Any],
        key: str,
        pairs: tuple[tuple[str, str], ...],
        where: str,
        rule: str,
    ) -> tuple[tuple[str, Template], ...]:
        out = []
        for k, v in pairs:
            try:
                out.append((k, Template.parse(v, f"__alert_{rule}")))
            except TemplateError as exc:
                raw = node.get(key)
                line = _line(raw, k) if isinstance(raw, CommentedMap) else _line(node, key)
                self.add(line, where, f"{key[:-1]} {k!r}: {exc}")
        return tuple(out)


def _scalar(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _keys(keys: set[str]) -> str:
    return ", ".join(sorted(keys))


def parse_rule_text(text: str, source: str = "<rules>") -> list[GroupSpec]:
    """Parse and validate the text of a rule file; ``source`` names it in errors."""
    yaml = YAML(typ="rt")
    try:
        doc = yaml.load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise RuleFileError([f"{source}{line}: not valid YAML: {problem}"]) from None
    checker = _Checker(source)
    if doc is None:
        return []
    if not isinstance(doc, Mapping) or set(doc) - {"groups"}:
        extra = sorted(set(doc) - {"groups"}) if isinstance(doc, Mapping) else []
        what = f"unknown top-level field(s) {extra}" if extra else "must be a mapping"
        raise RuleFileError([f"{source}:1: {what}; a rule file is 'groups: [...]'"])
    raw_groups = doc.get("groups") or []
    if not isinstance(raw_groups, list):
        raise RuleFileError([f"{source}:{_line(doc, 'groups')}: groups must be a list"])
    seen: set[str] = set()
    groups = [checker.group(g, i, seen) for i, g in enumerate(raw_groups)]
    if checker.problems:
        raise RuleFileError(checker.problems)
    return [g for g in groups if g is not None]


def load_rule_file(path: str | Path) -> list[GroupSpec]:
    """Read and validate one rule file; ``RuleFileError`` names file:line and the fix."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_RULE_FILE_BYTES:
            raise RuleFileError(
                [f"{p}: {size} bytes is larger than the {MAX_RULE_FILE_BYTES} allowed"]
            )
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise RuleFileError([f"{p}: cannot read rule file: {exc.strerror or exc}"]) from None
    except UnicodeDecodeError:
        raise RuleFileError([f"{p}: not UTF-8 text"]) from None
    return parse_rule_text(text, str(p))
