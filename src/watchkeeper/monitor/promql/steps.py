"""Intermediate values of the evaluator: every expression is evaluated at all steps at once.

An instant vector over ``n`` steps is a list of ``StepSeries``: one label set with a
value array and a presence mask of length ``n`` (a series may exist at some steps
and not at others). A scalar is one float array of length ``n``. Range vectors are
kept as raw samples (``RangeArg``) and windowed per step by the function consuming
them. Working column-wise lets numpy do the per-step work for all steps of a range
query in one go, instead of re-running the whole tree once per step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from watchkeeper.errors import QueryError
from watchkeeper.monitor.model import Labels

__all__ = [
    "FloatArray",
    "BoolArray",
    "IntArray",
    "RangeArg",
    "RangeSeries",
    "ScalarSteps",
    "StepSeries",
    "StringValue",
    "VectorSteps",
    "drop_name",
    "format_labels",
    "merge_same_labels",
    "require_unique_labels",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


@dataclass(slots=True)
class StepSeries:
    labels: Labels
    values: FloatArray
    present: BoolArray


@dataclass(slots=True)
class VectorSteps:
    series: list[StepSeries]


@dataclass(slots=True)
class ScalarSteps:
    values: FloatArray


@dataclass(slots=True)
class StringValue:
    value: str


@dataclass(slots=True)
class RangeSeries:
    """Raw samples (stale markers removed) of one series over the whole query window."""

    labels: Labels
    timestamps: IntArray
    values: FloatArray


@dataclass(slots=True)
class RangeArg:
    """A range vector argument: raw series plus, per step, the window ``(end - range, end]``."""

    series: list[RangeSeries]
    range_ms: int
    ends: IntArray  # per step: the window's (inclusive) end, after @ and offset


Evaluated = VectorSteps | ScalarSteps | StringValue | RangeArg


def drop_name(labels: Labels) -> Labels:
    if labels and labels[0][0] == "__name__":
        return labels[1:]
    return tuple(p for p in labels if p[0] != "__name__")


def format_labels(labels: Labels) -> str:
    inner = ", ".join(f'{k}="{v}"' for k, v in labels)
    return "{" + inner + "}"


def merge_same_labels(series: list[StepSeries]) -> list[StepSeries]:
    """Join series that ended up with the same labels (e.g. after dropping ``__name__``).

    They may take turns across steps; sharing a step is Prometheus' duplicate
    labelset error, because one output vector cannot hold two equal label sets.
    """
    if len(series) < 2:
        return series
    seen: dict[Labels, int] = {}
    out: list[StepSeries] = []
    for s in series:
        i = seen.get(s.labels)
        if i is None:
            seen[s.labels] = len(out)
            out.append(s)
            continue
        prev = out[i]
        if np.any(prev.present & s.present):
            raise QueryError("vector cannot contain metrics with the same labelset", "execution")
        out[i] = StepSeries(
            prev.labels,
            np.where(s.present, s.values, prev.values),
            prev.present | s.present,
        )
    return out


def require_unique_labels(series: list[StepSeries]) -> list[StepSeries]:
    """Prometheus' whole-result check for range-vector functions and unary minus.

    Unlike ``merge_same_labels`` (the per-step rule of instant-vector functions and
    operators), two series with equal labels are an error even if they never
    share a step.
    """
    seen: set[Labels] = set()
    for s in series:
        if s.labels in seen:
            raise QueryError("vector cannot contain metrics with the same labelset", "execution")
        seen.add(s.labels)
    return series
