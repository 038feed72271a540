"""Functions over instant vectors and scalars (the range-vector ones live in ``rangefuncs``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np

from watchkeeper.errors import QueryError
from watchkeeper.monitor.model import Labels, labels_from
from watchkeeper.monitor.promql.regex import go_regex
from watchkeeper.monitor.promql.steps import (
    FloatArray,
    StepSeries,
    merge_same_labels,
)

__all__ = [
    "DATE_FUNCTIONS",
    "ELEMENTWISE",
    "clamp",
    "label_join",
    "label_replace",
    "round_to",
    "sort_series",
]


def _sgn(v: FloatArray) -> FloatArray:
    # np.sign keeps NaN as NaN and maps +-0 to 0, like Prometheus' sgn.
    return np.sign(v)


ELEMENTWISE: dict[str, Callable[[FloatArray], FloatArray]] = {
    "abs": np.abs,
    "ceil": np.ceil,
    "floor": np.floor,
    "sqrt": np.sqrt,
    "exp": np.exp,
    "ln": np.log,
    "log2": np.log2,
    "log10": np.log10,
    "sgn": _sgn,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "asin": np.arcsin,
    "acos": np.arccos,
    "atan": np.arctan,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "tanh": np.tanh,
    "asinh": np.arcsinh,
    "acosh": np.arccosh,
    "atanh": np.arctanh,
    "deg": np.degrees,
    "rad": np.radians,
}


def map_values(
    series: list[StepSeries], f: Callable[[FloatArray], FloatArray], *, keep_name: bool = False
) -> list[StepSeries]:
    out = []
    with np.errstate(all="ignore"):
        for s in series:
            labels = s.labels if keep_name else tuple(p for p in s.labels if p[0] != "__name__")
            out.append(StepSeries(labels, f(s.values), s.present))
    return merge_same_labels(out)


def round_to(series: list[StepSeries], to_nearest: FloatArray) -> list[StepSeries]:
    def f(v: FloatArray) -> FloatArray:
        inverse = 1.0 / to_nearest
        return np.floor(v * inverse + 0.5) / inverse

    return map_values(series, f)


def clamp(series: list[StepSeries], lo: FloatArray, hi: FloatArray) -> list[StepSeries]:
    """clamp(v, min, max); steps where max < min yield nothing, like Prometheus."""
    valid = ~(hi < lo)

    def f(v: FloatArray) -> FloatArray:
        return np.maximum(lo, np.minimum(hi, v))

    out = map_values(series, f)
    for s in out:
        s.present = s.present & valid
    return out


def _date_part(name: str) -> Callable[[datetime], float]:
    parts: dict[str, Callable[[datetime], float]] = {
        "minute": lambda d: float(d.minute),
        "hour": lambda d: float(d.hour),
        "day_of_month": lambda d: float(d.day),
        "day_of_week": lambda d: float(d.isoweekday() % 7),
        "day_of_year": lambda d: float(d.timetuple().tm_yday),
        "days_in_month": _days_in_month,
        "month": lambda d: float(d.month),
        "year": lambda d: float(d.year),
    }
    return parts[name]


def _days_in_month(d: datetime) -> float:
    nxt = datetime(d.year + (d.month == 12), d.month % 12 + 1, 1, tzinfo=UTC)
    this = datetime(d.year, d.month, 1, tzinfo=UTC)
    return float((nxt - this).days)


DATE_FUNCTIONS = frozenset(
    {
        "minute",
        "hour",
        "day_of_month",
        "day_of_week",
        "day_of_year",
        "days_in_month",
        "month",
        "year",
    }
)


def date_values(name: str, v: FloatArray) -> FloatArray:
    part = _date_part(name)
    out = np.empty(len(v), dtype=np.float64)
    for i, f in enumerate(v.tolist()):
        if f != f or f in (np.inf, -np.inf):
            out[i] = np.nan
            continue
        out[i] = part(datetime.fromtimestamp(int(f), tz=UTC))
    return out


_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_GO_TEMPLATE = re.compile(r"\$(?:\{([^}]*)\}|([a-zA-Z0-9_]+))")


def _expand(template: str, m: re.Match[str]) -> str:
    """Go's regexp.Expand: ``$1``, ``${1}``, ``$name``; unknown groups expand to ""."""

    def sub(g: re.Match[str]) -> str:
        name = g.group(1) if g.group(1) is not None else g.group(2)
        try:
            value = m.group(int(name)) if name.isdigit() else m.group(name)
        except IndexError:
            return ""
        return value or ""

    text = template.replace("$$", "\x00")
    return _GO_TEMPLATE.sub(sub, text).replace("\x00", "$")


def label_replace(
    series: list[StepSeries], dst: str, replacement: str, src: str, regex: str
) -> list[StepSeries]:
    try:
        pattern = re.compile(f"(?:{go_regex(regex)})", re.DOTALL)
    except re.error as exc:
        raise QueryError(
            f'invalid regular expression in label_replace(): "{regex}": {exc}', "execution"
        ) from None
    if not _LABEL_NAME.match(dst) and dst != "__name__":
        raise QueryError(f'invalid destination label name in label_replace(): "{dst}"', "execution")
    out = []
    for s in series:
        labels = dict(s.labels)
        # fullmatch, not ^...$: Python's $ would also match before a trailing newline.
        m = pattern.fullmatch(labels.get(src, ""))
        if m is not None:
            labels[dst] = _expand(replacement, m)
        out.append(StepSeries(_canon(labels), s.values, s.present))
    return merge_same_labels(out)


def label_join(series: list[StepSeries], dst: str, sep: str, srcs: list[str]) -> list[StepSeries]:
    if not _LABEL_NAME.match(dst):
        raise QueryError(f'invalid destination label name in label_join(): "{dst}"', "execution")
    out = []
    for s in series:
        labels = dict(s.labels)
        labels[dst] = sep.join(labels.get(src, "") for src in srcs)
        out.append(StepSeries(_canon(labels), s.values, s.present))
    return merge_same_labels(out)


def _canon(labels: dict[str, str]) -> Labels:
    return labels_from(labels)


def sort_series(series: list[StepSeries], *, descending: bool, step: int = 0) -> list[StepSeries]:
    """Order by value at ``step`` (only meaningful for instant queries); NaNs last."""

    def key(s: StepSeries) -> tuple[bool, float]:
        v = float(s.values[step])
        if v != v:
            return (True, 0.0)
        return (False, -v if descending else v)

    return sorted(series, key=key)


_DIGITS = re.compile(r"(\d+)")


def natural_key(value: str) -> tuple[tuple[int, int, str], ...]:
    """Natural ordering ("cpu2" < "cpu10"), as the natsort package Prometheus uses."""
    parts = []
    for chunk in _DIGITS.split(value):
        if not chunk:
            continue
        if chunk.isdigit():
            parts.append((0, int(chunk), chunk))
        else:
            parts.append((1, 0, chunk))
    return tuple(parts)


def sort_by_label(
    series: list[StepSeries], names: list[str], *, descending: bool
) -> list[StepSeries]:
    """Order by the named labels (naturally), ties broken by the full label set."""

    def key(s: StepSeries) -> tuple[tuple[tuple[int, int, str], ...], ...]:
        d = dict(s.labels)
        return tuple(natural_key(d.get(n, "")) for n in names)

    ordered = sorted(series, key=lambda s: s.labels, reverse=descending)
    return sorted(ordered, key=key, reverse=descending)
