"""The adapter over ``promql-parser``: text in, our ``ast`` out, Prometheus' messages on error."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import promql_parser as pp

from watchkeeper.errors import QueryError
from watchkeeper.monitor.model import Matcher, MatchType
from watchkeeper.monitor.promql.ast import (
    Aggregate,
    AtSpec,
    Binary,
    Call,
    Expr,
    MatrixSel,
    NumberLit,
    StringLit,
    Subquery,
    Unary,
    VectorSel,
)
from watchkeeper.monitor.promql.regex import go_regex

__all__ = ["parse", "parse_duration"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_DURATION_RE = re.compile(r"^((\d+)y)?((\d+)w)?((\d+)d)?((\d+)h)?((\d+)m)?((\d+)s)?((\d+)ms)?$")
_UNIT_MS = (365 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000, 1)


def parse_duration(s: str) -> int:
    """A Prometheus duration (``1h30m``, ``5m``, ``250ms``) in milliseconds.

    Like the HTTP API, a plain (possibly fractional) number is read as seconds.
    """
    text = s.strip()
    m = _DURATION_RE.match(text)
    if text and m is not None and text != "":
        groups = m.groups()[1::2]
        return sum(int(g) * unit for g, unit in zip(groups, _UNIT_MS, strict=True) if g)
    try:
        seconds = float(text)
    except ValueError:
        raise QueryError(f'cannot parse "{s}" to a valid duration', "bad_data") from None
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        raise QueryError(f'cannot parse "{s}" to a valid duration', "bad_data")
    return round(seconds * 1000)


def _td_ms(td: timedelta) -> int:
    return (td.days * 86_400 + td.seconds) * 1000 + td.microseconds // 1000


# promql-parser words its type errors the Rust way; Prometheus' API clients (and
# our tests) expect Go's wording.
_TYPE_WORDS = (
    (re.compile(r"\btype matrix\b"), "type range vector"),
    (re.compile(r"\bgot matrix\b"), "got range vector"),
    (re.compile(r"\btype vector\b"), "type instant vector"),
    (re.compile(r"\bgot vector\b"), "got instant vector"),
    # Go quotes names with %q: "rate", not 'rate'.
    (re.compile(r"'([^']*)'"), r'"\1"'),
)


def _prometheus_message(msg: str) -> str:
    for pattern, repl in _TYPE_WORDS:
        msg = pattern.sub(repl, msg)
    return msg


@lru_cache(maxsize=512)
def parse(text: str) -> Expr:
    """Parse a PromQL expression; raises ``QueryError`` (bad_data) on syntax or type errors."""
    try:
        raw = pp.parse(text)
    except ValueError as exc:
        raise QueryError(_prometheus_message(str(exc)), "bad_data") from None
    return _convert(raw)


# The binding's enum members are not hashable: look them up by equality.
_MATCH_OPS = (
    (pp.MatchOp.Equal, MatchType.EQUAL),
    (pp.MatchOp.NotEqual, MatchType.NOT_EQUAL),
    (pp.MatchOp.Re, MatchType.REGEX),
    (pp.MatchOp.NotRe, MatchType.NOT_REGEX),
)

_CARD = (
    (pp.VectorMatchCardinality.OneToOne, "one-to-one"),
    (pp.VectorMatchCardinality.ManyToOne, "many-to-one"),
    (pp.VectorMatchCardinality.OneToMany, "one-to-many"),
    (pp.VectorMatchCardinality.ManyToMany, "many-to-many"),
)


def _lookup(table: tuple[tuple[Any, Any], ...], key: Any) -> Any:
    for k, v in table:
        if k == key:
            return v
    raise QueryError(f"unsupported parser value {key!r}", "bad_data")


_SYSTEM_TIME = re.compile(r"at: Some\(\s*At\(\s*SystemTime \{\s*tv_sec: (-?\d+),\s*tv_nsec: (\d+)")


def _at(owner: Any) -> AtSpec:
    """The ``@`` of a selector or subquery: ms since the epoch, or start()/end()."""
    raw = owner.at
    if raw is None:
        return None
    if raw.type == pp.AtModifierType.Start:
        return "start"
    if raw.type == pp.AtModifierType.End:
        return "end"
    # The binding panics converting times before 1970 into a datetime, so read the
    # time from its debug output instead (the owner's own @ is the last one shown).
    found = _SYSTEM_TIME.findall(repr(owner))
    if not found:
        raise QueryError("invalid @ modifier timestamp", "bad_data")
    seconds, nanos = found[-1]
    return int(seconds) * 1000 + int(nanos) // 1_000_000


def _offset(raw: timedelta | None) -> int:
    return 0 if raw is None else _td_ms(raw)


def _selector(raw: Any) -> VectorSel:
    matchers: list[Matcher] = []
    if raw.matchers.or_matchers:
        raise QueryError("'or' in label matchers is not supported", "bad_data")
    for m in raw.matchers.matchers:
        try:
            op = _lookup(_MATCH_OPS, m.op)
            value = m.value
            if op in (MatchType.REGEX, MatchType.NOT_REGEX):
                value = go_regex(value)
            matchers.append(Matcher.of(m.name, op, value))
        except re.error as exc:
            raise QueryError(
                f"parse error: invalid regular expression {m.value!r}: {exc}", "bad_data"
            ) from None
    if raw.name is not None:
        matchers.insert(0, Matcher.of("__name__", MatchType.EQUAL, raw.name))
    if not any(not m.matches("") for m in matchers):
        raise QueryError("vector selector must contain at least one non-empty matcher", "bad_data")
    return VectorSel(raw.name, tuple(matchers), _offset(raw.offset), _at(raw), str(raw))


def _convert(raw: Any) -> Expr:
    if isinstance(raw, pp.ParenExpr):
        return _convert(raw.expr)
    if isinstance(raw, pp.NumberLiteral):
        return NumberLit(float(raw.val))
    if isinstance(raw, pp.StringLiteral):
        return StringLit(str(raw.val))
    if isinstance(raw, pp.VectorSelector):
        return _selector(raw)
    if isinstance(raw, pp.MatrixSelector):
        return MatrixSel(_selector(raw.vector_selector), _td_ms(raw.range))
    if isinstance(raw, pp.SubqueryExpr):
        step = 0 if raw.step is None else _td_ms(raw.step)
        rng = _offset(raw.range)
        return Subquery(_convert(raw.expr), rng, step, _offset(raw.offset), _at(raw))
    if isinstance(raw, pp.UnaryExpr):
        inner = _convert(raw.expr)
        if isinstance(inner, NumberLit):
            return NumberLit(-inner.value)
        return Unary(inner)
    if isinstance(raw, pp.Call):
        return Call(raw.func.name, tuple(_convert(a) for a in raw.args))
    if isinstance(raw, pp.AggregateExpr):
        mod = raw.modifier
        grouping: tuple[str, ...] = ()
        without = False
        if mod is not None:
            grouping = tuple(mod.labels)
            without = mod.type == pp.AggModifierType.Without
        param = None if raw.param is None else _convert(raw.param)
        return Aggregate(str(raw.op), _convert(raw.expr), param, grouping, without)
    if isinstance(raw, pp.BinaryExpr):
        return _binary(raw)
    raise QueryError(f"unsupported expression {raw!r}", "bad_data")


def _binary(raw: Any) -> Binary:
    op = str(raw.op)
    mod = raw.modifier
    card = "one-to-one"
    on = False
    matching: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    return_bool = False
    if mod is not None:
        card = _lookup(_CARD, mod.card)
        return_bool = bool(mod.return_bool)
        if mod.matching is not None:
            on = mod.matching.type == pp.LabelModifierType.Include
            matching = tuple(mod.matching.labels)
        if mod.group_labels:
            include = tuple(mod.group_labels)
    if op in ("and", "or", "unless"):
        card = "many-to-many"
    return Binary(
        op,
        _convert(raw.lhs),
        _convert(raw.rhs),
        return_bool,
        card,  # type: ignore[arg-type]
        on,
        matching,
        include,
    )
