"""Binary operators: arithmetic, comparisons (filtering or ``bool``), set operators, matching."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from watchkeeper.errors import QueryError
from watchkeeper.monitor.model import Labels
from watchkeeper.monitor.promql.ast import Binary
from watchkeeper.monitor.promql.steps import (
    BoolArray,
    FloatArray,
    StepSeries,
    drop_name,
    format_labels,
    merge_same_labels,
)

__all__ = ["COMPARISONS", "arith", "scalar_binop", "vector_binop", "vector_scalar_binop"]

COMPARISONS = frozenset({"==", "!=", ">", "<", ">=", "<="})


def _pow(a: FloatArray, b: FloatArray) -> FloatArray:
    out: FloatArray = np.power(a, b)
    return out


_ARITH: dict[str, Callable[[FloatArray, FloatArray], FloatArray]] = {
    "+": np.add,
    "-": np.subtract,
    "*": np.multiply,
    "/": np.divide,
    "%": np.fmod,  # Go's math.Mod: the result takes the dividend's sign
    "^": _pow,
    "atan2": np.arctan2,
}

_CMP: dict[str, Callable[[FloatArray, FloatArray], BoolArray]] = {
    "==": np.equal,
    "!=": np.not_equal,
    ">": np.greater,
    "<": np.less,
    ">=": np.greater_equal,
    "<=": np.less_equal,
}


def arith(op: str, a: FloatArray, b: FloatArray) -> tuple[FloatArray, BoolArray]:
    """Element-wise ``a op b``: (value, keep). Comparisons keep ``a`` where true."""
    with np.errstate(all="ignore"):
        if op in _ARITH:
            v = _ARITH[op](a, b)
            return np.asarray(v, dtype=np.float64), np.ones(len(v), dtype=np.bool_)
        keep = _CMP[op](a, b)
        return a, keep


def scalar_binop(op: str, a: FloatArray, b: FloatArray) -> FloatArray:
    if op in COMPARISONS:
        _, keep = arith(op, a, b)
        return keep.astype(np.float64)
    return arith(op, a, b)[0]


def vector_scalar_binop(
    e: Binary, series: list[StepSeries], scalar: FloatArray, *, scalar_left: bool
) -> list[StepSeries]:
    out = []
    is_cmp = e.op in COMPARISONS
    for s in series:
        a, b = (scalar, s.values) if scalar_left else (s.values, scalar)
        v, keep = arith(e.op, a, b)
        labels = s.labels
        if is_cmp:
            if e.return_bool:
                v = keep.astype(np.float64)
                present = s.present
                labels = drop_name(labels)
            else:
                # Filtering keeps the vector's own value, whichever side it is on.
                v = s.values
                present = s.present & keep
        else:
            present = s.present
            labels = drop_name(labels)
        out.append(StepSeries(labels, v, present))
    return merge_same_labels(out)


def _signature(labels: Labels, e: Binary) -> Labels:
    if e.on:
        names = set(e.matching)
        return tuple(p for p in labels if p[0] in names)
    drop = set(e.matching) | {"__name__"}
    return tuple(p for p in labels if p[0] not in drop)


def _set_op(e: Binary, lhs: list[StepSeries], rhs: list[StepSeries]) -> list[StepSeries]:
    steps = len(lhs[0].present) if lhs else (len(rhs[0].present) if rhs else 0)

    def presence_by_sig(side: list[StepSeries]) -> dict[Labels, BoolArray]:
        sigs: dict[Labels, BoolArray] = {}
        for s in side:
            sig = _signature(s.labels, e)
            prev = sigs.get(sig)
            sigs[sig] = s.present.copy() if prev is None else prev | s.present
        return sigs

    none = np.zeros(steps, dtype=np.bool_)
    if e.op == "and":
        rsigs = presence_by_sig(rhs)
        out = [
            StepSeries(s.labels, s.values, s.present & rsigs.get(_signature(s.labels, e), none))
            for s in lhs
        ]
    elif e.op == "unless":
        rsigs = presence_by_sig(rhs)
        out = [
            StepSeries(s.labels, s.values, s.present & ~rsigs.get(_signature(s.labels, e), none))
            for s in lhs
        ]
    else:  # or
        lsigs = presence_by_sig(lhs)
        out = list(lhs) + [
            StepSeries(s.labels, s.values, s.present & ~lsigs.get(_signature(s.labels, e), none))
            for s in rhs
        ]
    return merge_same_labels([s for s in out if s.present.any()])


def _result_labels(many: Labels, one: Labels, e: Binary) -> Labels:
    labels = many
    if e.op not in COMPARISONS or e.return_bool:
        labels = drop_name(labels)
    if e.card == "one-to-one":
        if e.on:
            keep = set(e.matching)
            labels = tuple(p for p in labels if p[0] in keep)
        else:
            drop = set(e.matching)
            labels = tuple(p for p in labels if p[0] not in drop)
    if e.include:
        d = dict(labels)
        one_d = dict(one)
        for name in e.include:
            if one_d.get(name, ""):
                d[name] = one_d[name]
            else:
                d.pop(name, None)
        labels = tuple(sorted(d.items()))
    return labels


def vector_binop(e: Binary, lhs: list[StepSeries], rhs: list[StepSeries]) -> list[StepSeries]:
    if e.op in ("and", "or", "unless"):
        return _set_op(e, lhs, rhs)
    if e.card == "many-to-many":
        raise QueryError("many-to-many only allowed for set operators", "bad_data")
    one_to_many = e.card == "one-to-many"
    many_side, one_side = (rhs, lhs) if one_to_many else (lhs, rhs)
    one_name = "left" if one_to_many else "right"

    # The "one" side must have at most one series per signature at every step.
    one_groups: dict[Labels, list[StepSeries]] = {}
    for s in one_side:
        one_groups.setdefault(_signature(s.labels, e), []).append(s)
    for sig, members in one_groups.items():
        if len(members) > 1:
            counts = np.sum([m.present for m in members], axis=0)
            if np.any(counts > 1):
                i = int(np.argmax(counts > 1))
                dup = [format_labels(m.labels) for m in members if m.present[i]][:2]
                raise QueryError(
                    f"found duplicate series for the match group {format_labels(sig)} "
                    f"on the {one_name} hand-side of the operation: [{', '.join(dup)}];"
                    "many-to-many matching not allowed: matching labels must be unique on one side",
                    "execution",
                )

    is_cmp = e.op in COMPARISONS
    pieces: list[tuple[Labels, Labels, StepSeries]] = []  # (sig, output labels, series)
    for ms in many_side:
        sig = _signature(ms.labels, e)
        for os_ in one_groups.get(sig, ()):
            both = ms.present & os_.present
            if not both.any():
                continue
            a, b = (os_.values, ms.values) if one_to_many else (ms.values, os_.values)
            v, keep = arith(e.op, a, b)
            if is_cmp and e.return_bool:
                v = keep.astype(np.float64)
                present = both
            else:
                present = both & keep
            if not present.any():
                continue
            labels = _result_labels(ms.labels, os_.labels, e)
            pieces.append((sig, labels, StepSeries(labels, v, present)))

    _check_unique(e, pieces)
    return merge_same_labels([p[2] for p in pieces])


def _check_unique(e: Binary, pieces: list[tuple[Labels, Labels, StepSeries]]) -> None:
    """Prometheus' per-step matching errors, raised only where both sides really met."""
    if e.card == "one-to-one":
        by_sig: dict[Labels, BoolArray] = {}
        for sig, _, s in pieces:
            prev = by_sig.get(sig)
            if prev is not None and np.any(prev & s.present):
                raise QueryError(
                    "multiple matches for labels: many-to-one matching must be explicit "
                    "(group_left/group_right)",
                    "execution",
                )
            by_sig[sig] = s.present if prev is None else prev | s.present
        return
    by_out: dict[tuple[Labels, Labels], BoolArray] = {}
    for sig, labels, s in pieces:
        prev = by_out.get((sig, labels))
        if prev is not None and np.any(prev & s.present):
            raise QueryError(
                "multiple matches for labels: grouping labels must ensure unique matches",
                "execution",
            )
        by_out[(sig, labels)] = s.present if prev is None else prev | s.present
