"""Arithmetic claims: ``"17*3 = 51"`` parsed and evaluated deterministically.

The service's deterministic check (QWED's point: never trust a model's answer
unchecked) and the fake model's own solver share this evaluator. It walks the
syntax tree of numbers, + - * / and parentheses only, so a claim can never run
code, and bounds sizes so a claim can never take long.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from fractions import Fraction

__all__ = ["ClaimError", "evaluate", "format_number", "parse_claim"]

MAX_LENGTH = 200
_BINARY: dict[type[ast.operator], Callable[[Fraction, Fraction], Fraction]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


class ClaimError(ValueError):
    """The claim is not ``<arithmetic> = <number>``; the message says what is wrong."""


def parse_claim(claim: str) -> tuple[str, Fraction]:
    """``"2+2=4"`` -> (``"2+2"``, 4). Raises ClaimError unless both sides are arithmetic."""
    if len(claim) > MAX_LENGTH:
        raise ClaimError(f"a claim has at most {MAX_LENGTH} characters, got {len(claim)}")
    left, sep, right = claim.partition("=")
    if not sep or "=" in right:
        raise ClaimError(f"write a claim as '<expression> = <number>', e.g. '2+2=4', got {claim!r}")
    evaluate(left)  # an expression the checker cannot evaluate is never sent to the model
    return left.strip(), evaluate(right)


def evaluate(expression: str) -> Fraction:
    """The exact value of an arithmetic expression. Raises ClaimError."""
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError:
        raise ClaimError(f"not an arithmetic expression: {expression!r}") from None
    return _value(tree.body, expression)


def _value(node: ast.expr, text: str) -> Fraction:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        if isinstance(node.value, bool):
            raise ClaimError(f"only numbers, + - * / and parentheses are allowed: {text!r}")
        return Fraction(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = _value(node.operand, text)
        return -inner if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _value(node.left, text), _value(node.right, text)
        if isinstance(node.op, ast.Div) and right == 0:
            raise ClaimError(f"division by zero in {text!r}")
        return _BINARY[type(node.op)](left, right)
    raise ClaimError(f"only numbers, + - * / and parentheses are allowed: {text!r}")


def format_number(value: Fraction) -> str:
    """4 -> "4", 1/4 -> "0.25", 1/3 -> "1/3" (exact, as the model answers)."""
    if value.denominator == 1:
        return str(value.numerator)
    as_float = float(value)
    return repr(as_float) if Fraction(as_float) == value else str(value)
