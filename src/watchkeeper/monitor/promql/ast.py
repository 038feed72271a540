"""Our own PromQL syntax tree: small frozen dataclasses the evaluator walks.

The ``promql-parser`` binding hands back pyo3 objects whose attributes are
re-converted on every access (and one of which panics for negative ``@``
timestamps); converting once into plain dataclasses keeps the evaluator fast,
typed and independent of the binding's quirks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from watchkeeper.monitor.model import Matcher

__all__ = [
    "AtSpec",
    "Binary",
    "Call",
    "Expr",
    "MatrixSel",
    "NumberLit",
    "StringLit",
    "Subquery",
    "Unary",
    "VectorSel",
    "Aggregate",
    "value_type",
]

# ``@`` modifier: an absolute time in ms, or the query's start()/end().
AtSpec = int | Literal["start", "end"] | None


@dataclass(frozen=True, slots=True)
class NumberLit:
    value: float


@dataclass(frozen=True, slots=True)
class StringLit:
    value: str


@dataclass(frozen=True, slots=True)
class VectorSel:
    name: str | None
    matchers: tuple[Matcher, ...]
    offset_ms: int
    at: AtSpec
    text: str  # for absent() label derivation and error messages


@dataclass(frozen=True, slots=True)
class MatrixSel:
    selector: VectorSel
    range_ms: int


@dataclass(frozen=True, slots=True)
class Subquery:
    expr: Expr
    range_ms: int
    step_ms: int  # 0: the default (engine's no-step interval)
    offset_ms: int
    at: AtSpec


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Aggregate:
    op: str
    expr: Expr
    param: Expr | None
    grouping: tuple[str, ...]
    without: bool


@dataclass(frozen=True, slots=True)
class Binary:
    op: str
    lhs: Expr
    rhs: Expr
    return_bool: bool
    card: Literal["one-to-one", "many-to-one", "one-to-many", "many-to-many"]
    on: bool  # True: on(...), False: ignoring(...) (or no matching clause)
    matching: tuple[str, ...]
    include: tuple[str, ...]  # group_left/group_right labels


@dataclass(frozen=True, slots=True)
class Unary:
    expr: Expr


Expr = NumberLit | StringLit | VectorSel | MatrixSel | Subquery | Call | Aggregate | Binary | Unary

ValueType = Literal["scalar", "string", "vector", "matrix"]

# Return types of the functions whose result is not an instant vector.
_SCALAR_FUNCS = frozenset({"time", "scalar", "pi"})


def value_type(e: Expr) -> ValueType:
    """The PromQL type an expression evaluates to (the parser has checked it)."""
    if isinstance(e, NumberLit):
        return "scalar"
    if isinstance(e, StringLit):
        return "string"
    if isinstance(e, MatrixSel | Subquery):
        return "matrix"
    if isinstance(e, Call):
        return "scalar" if e.name in _SCALAR_FUNCS else "vector"
    if isinstance(e, Binary):
        if value_type(e.lhs) == "scalar" and value_type(e.rhs) == "scalar":
            return "scalar"
        return "vector"
    if isinstance(e, Unary):
        return value_type(e.expr)
    return "vector"
