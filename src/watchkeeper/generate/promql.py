"""PromQL text helpers: selectors, exact numbers, and the annotation templates.

Thresholds are :class:`~decimal.Decimal` or :class:`~fractions.Fraction` and are
printed in plain positional notation (``0.0144``), never through a float, so no
``0.0009999999999999432`` ever reaches a rule file.
"""

from __future__ import annotations

import re
from decimal import Decimal, localcontext
from fractions import Fraction

from watchkeeper.spec.durations import Duration

__all__ = [
    "HTTP_COUNT",
    "HTTP_BUCKET",
    "le_matcher",
    "num",
    "prose",
    "render_template",
    "selector",
]

HTTP_COUNT = "http_server_request_duration_seconds_count"
HTTP_BUCKET = "http_server_request_duration_seconds_bucket"


def num(value: Decimal | Fraction | int) -> str:
    """Exact positional decimal; non-terminating fractions are rounded to 15 digits."""
    if isinstance(value, Fraction):
        with localcontext() as ctx:
            ctx.prec = 15
            value = Decimal(value.numerator) / Decimal(value.denominator)
    text = format(Decimal(value).normalize(), "f")
    return "0" if text in {"-0", ""} else text


def prose(value: Decimal | Fraction | int) -> str:
    """A number for people: at most four significant digits (0.9333, 13.44, 14.4)."""
    with localcontext() as ctx:
        ctx.prec = 4
        if isinstance(value, Fraction):
            value = Decimal(value.numerator) / Decimal(value.denominator)
        return num(+Decimal(value))


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def selector(metric: str, **matchers: str) -> str:
    """``metric{a="b",c=~"d"}``; a key ending in ``__re`` makes a regex matcher."""
    parts = []
    for key, value in matchers.items():
        if key.endswith("__re"):
            parts.append(f"{key[:-4]}=~{_quote(value)}")
        else:
            parts.append(f"{key}={_quote(value)}")
    return f"{metric}{{{','.join(parts)}}}" if parts else metric


def le_matcher(bound: Decimal) -> str:
    """Regex for a bucket bound as either client writes it: ``1`` or ``1.0``."""
    plain = num(bound)
    if "." in plain:
        return plain.replace(".", "\\.")
    return f"{plain}(\\.0)?"


def go_float(bound: Decimal) -> str:
    """How prometheus-client prints a bucket bound (``1.0``, ``0.25``, ``+Inf``)."""
    text = num(bound)
    return text if "." in text else f"{text}.0"


def window(duration: Duration) -> str:
    return f"[{duration}]"


_TEMPLATE = re.compile(r"\{\{\s*(.*?)\s*\}\}")


def render_template(text: str, labels: dict[str, str], value: float) -> str:
    """Expand the template subset watchkeeper writes, exactly as Prometheus would.

    Supported: ``$labels.x``, ``$value | humanizePercentage``, ``$value | printf "%.4g"``,
    Generated tests use it to predict annotations.
    """

    def expand(match: re.Match[str]) -> str:
        expr = match.group(1)
        if expr.startswith("$labels."):
            return labels.get(expr.removeprefix("$labels."), "")
        if expr == "$value | humanizePercentage":
            return f"{value * 100:.4g}%"
        printf = re.fullmatch(r'\$value \| printf "(%[.0-9]*[gf])"', expr)
        if printf:
            return printf.group(1) % value
        raise ValueError(f"template {expr!r} is not one watchkeeper can predict")

    return _TEMPLATE.sub(expand, text)
