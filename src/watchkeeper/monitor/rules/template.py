"""The Go text/template subset Prometheus users write in alert labels and annotations.

Supported: text and ``{{ }}`` actions with ``{{-``/``-}}`` trimming and ``{{/* */}}``
comments; ``$labels.x``, ``$value``, ``$externalLabels.x``, ``$externalURL`` and their
``.Labels.x`` / ``.Value`` spellings; string, number and boolean literals; pipelines
(``$value | printf "%.2f"``) and parenthesised calls; ``if`` / ``else if`` / ``else`` /
``end``; the functions of ``_FUNCS`` (Prometheus' humanize family, ``printf``,
``toUpper``, ``reReplaceAll``, comparisons, ...). Anything else (``range``, ``with``,
``define``, variables assigned in the template, ``query``) is refused when the rule file
is loaded, naming the construct, so a rule never renders differently here and on
Prometheus without saying so.

Expansion errors render as ``<error expanding template: ...>``, as Prometheus does.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from watchkeeper.monitor.rules.gofmt import go_printf, go_value

__all__ = ["Template", "TemplateData", "TemplateError", "expand"]


class TemplateError(ValueError):
    """A template that cannot be parsed, or uses a construct we do not implement."""


@dataclass(frozen=True, slots=True)
class TemplateData:
    labels: Mapping[str, str]
    value: float
    external_labels: Mapping[str, str]
    external_url: str = ""


# --- functions -----------------------------------------------------------------------


def _float(v: object) -> float:
    if isinstance(v, bool):
        raise ValueError(f"can't convert {go_value(v)} to float")
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v.strip())
        except ValueError:
            raise ValueError(f'strconv.ParseFloat: parsing "{v}": invalid syntax') from None
    raise ValueError(f"can't convert {go_value(v)} to float")


def _g4(v: float, suffix: str = "") -> str:
    return go_printf("%.4g", [v]) + suffix


def _humanize(x: object) -> str:
    v = _float(x)
    if v == 0 or math.isnan(v) or math.isinf(v):
        return _g4(v)
    prefix = ""
    if abs(v) >= 1:
        for p in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
            if abs(v) < 1000:
                break
            prefix, v = p, v / 1000
        return _g4(v, prefix)
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(v) >= 1:
            break
        prefix, v = p, v * 1000
    return _g4(v, prefix)


def _humanize1024(x: object) -> str:
    v = _float(x)
    if abs(v) <= 1 or math.isnan(v) or math.isinf(v):
        return _g4(v)
    prefix = ""
    for p in ("ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"):
        if abs(v) < 1024:
            break
        prefix, v = p, v / 1024
    return _g4(v, prefix)


def _humanize_duration(x: object) -> str:
    v = _float(x)
    if math.isnan(v) or math.isinf(v):
        return _g4(v)
    if v == 0:
        return _g4(v, "s")
    if abs(v) >= 1:
        sign = "-" if v < 0 else ""
        v = abs(v)
        d = int(v)
        seconds, minutes, hours, days = d % 60, (d // 60) % 60, (d // 3600) % 24, d // 86400
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {seconds}s"
        if minutes:
            return f"{sign}{minutes}m {seconds}s"
        return sign + _g4(v, "s")
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(v) >= 1:
            break
        prefix, v = p, v * 1000
    return _g4(v, prefix + "s")


def _humanize_percentage(x: object) -> str:
    return _g4(_float(x) * 100, "%")


def _humanize_timestamp(x: object) -> str:
    v = _float(x)
    if math.isnan(v) or math.isinf(v):
        return _g4(v)
    moment = datetime.fromtimestamp(v, UTC)
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    frac = f"{moment.microsecond / 1e6:.9f}".rstrip("0").rstrip(".")[1:]
    return f"{text}{frac} +0000 UTC"


def _title(s: str) -> str:
    return re.sub(r"(^|[^\w'])(\w)", lambda m: m.group(1) + m.group(2).upper(), s)


def _truth(v: object) -> bool:
    if isinstance(v, bool):
        return v
    if v is None:
        return False
    if isinstance(v, int | float):
        return v != 0
    if isinstance(v, str | dict | list):
        return len(v) > 0
    return True


def _go_regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _compare(op: Callable[[Any, Any], bool]) -> Callable[..., bool]:
    def fn(a: object, b: object) -> bool:
        if isinstance(a, int | float) and isinstance(b, int | float):
            return op(a, b)
        if type(a) is not type(b):
            raise ValueError("incompatible types for comparison")
        return op(a, b)

    return fn


def _and(*args: object) -> object:
    for a in args:
        if not _truth(a):
            return a
    return args[-1]


def _or(*args: object) -> object:
    for a in args:
        if _truth(a):
            return a
    return args[-1]


def _index(container: object, *keys: object) -> object:
    for key in keys:
        if isinstance(container, Mapping):
            container = container.get(key, "")
        else:
            raise ValueError(f"can't index item of type {type(container).__name__}")
    return container


_FUNCS: dict[str, Callable[..., object]] = {
    "humanize": _humanize,
    "humanize1024": _humanize1024,
    "humanizeDuration": _humanize_duration,
    "humanizePercentage": _humanize_percentage,
    "humanizeTimestamp": _humanize_timestamp,
    "printf": lambda fmt, *args: go_printf(str(fmt), args),
    "print": lambda *args: "".join(go_value(a) for a in args),
    "toUpper": lambda s: str(s).upper(),
    "toLower": lambda s: str(s).lower(),
    "title": lambda s: _title(str(s)),
    "stripPort": lambda s: str(s).rsplit(":", 1)[0] if ":" in str(s) else str(s),
    "match": lambda pattern, text: _go_regex(str(pattern)).search(str(text)) is not None,
    "reReplaceAll": lambda pattern, repl, text: _go_regex(str(pattern)).sub(
        re.sub(r"\$\{?(\w+)\}?", r"\\g<\1>", str(repl)), str(text)
    ),
    "eq": lambda a, *bs: any(a == b for b in bs),
    "ne": _compare(lambda a, b: a != b),
    "lt": _compare(lambda a, b: a < b),
    "le": _compare(lambda a, b: a <= b),
    "gt": _compare(lambda a, b: a > b),
    "ge": _compare(lambda a, b: a >= b),
    "and": _and,
    "or": _or,
    "not": lambda a: not _truth(a),
    "len": lambda a: len(a) if isinstance(a, str | dict | list) else 0,
    "index": _index,
}

_UNSUPPORTED = ("range", "with", "define", "template", "block", "break", "continue", "query")

# --- parsing ---------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<str>"(?:[^"\\]|\\.)*")
    | (?P<raw>`[^`]*`)
    | (?P<num>[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?))
    | (?P<var>\$[A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)
    | (?P<field>(?:\.[A-Za-z0-9_]+)+|\.)
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<op>:=|=|\||\(|\))
    )""",
    re.VERBOSE,
)

Token = tuple[str, str]
# Expression nodes: ("lit", value) | ("var", path) | ("call", name, args) | ("pipe", cmds)
Node = tuple[Any, ...]


def _tokens(text: str, where: str) -> list[Token]:
    out: list[Token] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise TemplateError(f"{where}: unexpected {text[pos:].strip()!r} in action")
        kind = m.lastgroup
        assert kind is not None
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, tokens: list[Token], where: str) -> None:
        self.tokens = tokens
        self.pos = 0
        self.where = where

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def pipeline(self) -> Node:
        cmds = [self.command()]
        while self.peek() == ("op", "|"):
            self.pos += 1
            cmds.append(self.command())
        return ("pipe", cmds)

    def command(self) -> Node:
        words: list[Node] = []
        while (tok := self.peek()) is not None and tok not in (("op", "|"), ("op", ")")):
            words.append(self.operand())
        if not words:
            raise TemplateError(f"{self.where}: missing value for command")
        head = words[0]
        if head[0] == "fn":
            return ("call", head[1], words[1:])
        if len(words) > 1:
            raise TemplateError(f"{self.where}: can't give argument to non-function")
        return words[0]

    def operand(self) -> Node:
        kind, text = self.tokens[self.pos]
        self.pos += 1
        if kind == "str":
            return ("lit", _unquote(text))
        if kind == "raw":
            return ("lit", text[1:-1])
        if kind == "num":
            return ("lit", float(text) if re.search(r"[.eE]", text) else int(text))
        if kind == "var":
            return ("var", _var_path(text, self.where))
        if kind == "field":
            return ("var", _field_path(text, self.where))
        if kind == "ident":
            if text in ("true", "false"):
                return ("lit", text == "true")
            if text == "nil":
                return ("lit", None)
            if text in _UNSUPPORTED:
                raise TemplateError(_unsupported(text, self.where))
            if text not in _FUNCS:
                raise TemplateError(f'{self.where}: function "{text}" not defined')
            return ("fn", text)
        if (kind, text) == ("op", "("):
            inner = self.pipeline()
            if self.peek() != ("op", ")"):
                raise TemplateError(f"{self.where}: unclosed left paren")
            self.pos += 1
            return inner
        if text in (":=", "="):
            raise TemplateError(_unsupported("variable assignment", self.where))
        raise TemplateError(f"{self.where}: unexpected {text!r}")


def _unsupported(what: str, where: str) -> str:
    return (
        f"{where}: {what!r} is not supported by watchkeeper's template engine; use "
        "$labels, $value, $externalLabels, if/else, printf and the humanize functions"
    )


_ROOTS = {
    "$labels": ("Labels",),
    "$value": ("Value",),
    "$externalLabels": ("ExternalLabels",),
    "$externalURL": ("ExternalURL",),
    "$": (),
}


def _var_path(text: str, where: str) -> tuple[str, ...]:
    name, *rest = text.split(".")
    if name not in _ROOTS:
        raise TemplateError(f'{where}: undefined variable "{name}"')
    return (*_ROOTS[name], *rest)


def _field_path(text: str, where: str) -> tuple[str, ...]:
    parts = tuple(p for p in text.split(".") if p)
    if parts and parts[0] not in ("Labels", "Value", "ExternalLabels", "ExternalURL"):
        raise TemplateError(f"{where}: can't evaluate field {parts[0]} in type *template.data")
    return parts


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(
        r"\\(.)",
        lambda m: {"n": "\n", "t": "\t", "\\": "\\", '"': '"'}.get(m.group(1), m.group(1)),
        body,
    )


# Template nodes: ("text", s) | ("action", pipe) | ("if", [(cond, body)...], else_body)
_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.DOTALL)


def _parse_body(text: str, name: str) -> list[Node]:
    root: list[Node] = []
    # Stack of open ifs: (branches, current body, else_body or None).
    stack: list[tuple[list[tuple[Node, list[Node]]], list[Node] | None]] = []
    current = root
    pos = 0
    pending_trim = False
    for m in _ACTION.finditer(text):
        chunk = text[pos : m.start()]
        if pending_trim:
            chunk = chunk.lstrip()
        if m.group(1):
            chunk = chunk.rstrip()
        if chunk:
            current.append(("text", chunk))
        pos = m.end()
        pending_trim = bool(m.group(3))
        body = m.group(2).strip()
        where = f"template {name!r}"
        if body.startswith("/*"):
            if not body.endswith("*/"):
                raise TemplateError(f"{where}: unclosed comment")
            continue
        word = body.split(None, 1)[0] if body else ""
        rest = body[len(word) :].strip()
        if word == "if":
            branches: list[tuple[Node, list[Node]]] = [(_pipe(rest, where), [])]
            current.append(("if", branches, None))
            stack.append((branches, None))
            current = branches[-1][1]
        elif word == "else":
            if not stack:
                raise TemplateError(f"{where}: unexpected {{{{else}}}}")
            branches, else_body = stack[-1]
            if else_body is not None:
                raise TemplateError(f"{where}: expected end; found {{{{else}}}}")
            if rest.startswith("if ") or rest == "if":
                branches.append((_pipe(rest[2:].strip(), where), []))
                current = branches[-1][1]
            elif rest:
                raise TemplateError(_unsupported(f"else {rest.split()[0]}", where))
            else:
                new_else: list[Node] = []
                stack[-1] = (branches, new_else)
                current = new_else
        elif word == "end":
            if not stack:
                raise TemplateError(f"{where}: unexpected {{{{end}}}}")
            branches, else_body = stack.pop()
            # The {{if}} node is the last one of the body it was opened in.
            parent = _current_body(root, stack)
            parent[-1] = ("if", branches, else_body)
            current = _current_body(root, stack)
        elif word in _UNSUPPORTED:
            raise TemplateError(_unsupported(word, where))
        elif not body:
            raise TemplateError(f"{where}: missing value for command")
        else:
            current.append(("action", _pipe(body, where)))
    if stack:
        raise TemplateError(f"template {name!r}: unexpected EOF (an {{{{if}}}} lacks {{{{end}}}})")
    chunk = text[pos:]
    if pending_trim:
        chunk = chunk.lstrip()
    if chunk:
        current.append(("text", chunk))
    return root


def _current_body(root: list[Node], stack: list[Any]) -> list[Node]:
    if not stack:
        return root
    branches, else_body = stack[-1]
    return else_body if else_body is not None else branches[-1][1]  # type: ignore[no-any-return]


def _pipe(text: str, where: str) -> Node:
    tokens = _tokens(text, where)
    if ("op", ":=") in tokens or ("op", "=") in tokens:
        raise TemplateError(_unsupported("variable assignment", where))
    parser = _Parser(tokens, where)
    node = parser.pipeline()
    if parser.peek() is not None:
        raise TemplateError(f"{where}: unexpected {parser.peek()[1]!r} in action")  # type: ignore[index]
    return node


# --- evaluation ------------------------------------------------------------------------


def _data_value(path: tuple[str, ...], data: TemplateData) -> object:
    roots: dict[str, object] = {
        "Labels": dict(data.labels),
        "Value": data.value,
        "ExternalLabels": dict(data.external_labels),
        "ExternalURL": data.external_url,
    }
    if not path:
        return roots
    value: object = roots[path[0]]
    for key in path[1:]:
        if isinstance(value, dict):
            value = value.get(key, "")  # missingkey=zero, as Prometheus sets it
        else:
            raise ValueError(f"can't evaluate field {key} in type {type(value).__name__}")
    return value


def _eval(node: Node, data: TemplateData, piped: tuple[object, ...] = ()) -> object:
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "var":
        return _data_value(node[1], data)
    if kind == "pipe":
        value: tuple[object, ...] = ()
        for cmd in node[1]:
            value = (_eval(cmd, data, value),)
        return value[0]
    if kind == "call":
        args = [_eval(a, data) for a in node[2]]
        return _FUNCS[node[1]](*args, *piped)
    raise ValueError(f"cannot evaluate {kind}")


def _render(nodes: Sequence[Node], data: TemplateData, out: list[str]) -> None:
    for node in nodes:
        if node[0] == "text":
            out.append(node[1])
        elif node[0] == "action":
            out.append(go_value(_eval(node[1], data)))
        else:
            for cond, body in node[1]:
                if _truth(_eval(cond, data)):
                    _render(body, data, out)
                    break
            else:
                if node[2] is not None:
                    _render(node[2], data, out)


class Template:
    """A parsed template; ``Template.parse`` raises ``TemplateError`` for what we refuse."""

    __slots__ = ("_nodes", "name", "text")

    def __init__(self, name: str, text: str, nodes: list[Node]) -> None:
        self.name = name
        self.text = text
        self._nodes = nodes

    @classmethod
    def parse(cls, text: str, name: str = "template") -> Template:
        return cls(name, text, _parse_body(text, name) if "{{" in text else [("text", text)])

    @property
    def is_static(self) -> bool:
        return all(n[0] == "text" for n in self._nodes)

    def expand(self, data: TemplateData) -> str:
        out: list[str] = []
        try:
            _render(self._nodes, data, out)
        except (ValueError, TypeError, ZeroDivisionError, re.error, OverflowError) as exc:
            return f"<error expanding template: template: {self.name}: {exc}>"
        return "".join(out)


def expand(text: str, data: TemplateData, name: str = "template") -> str:
    """Parse and expand in one go (the loader parses once; this is for one-offs)."""
    return Template.parse(text, name).expand(data)
