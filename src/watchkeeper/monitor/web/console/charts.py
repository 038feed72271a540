"""PromQL results as uPlot data: one shared x axis, one array of values per series.

uPlot draws ``[xs, ys1, ys2, ...]`` with ``null`` for gaps. A range query already
answers on the grid ``start + k * step``; ``to_chart`` places each series' points on
that grid. ``downsample`` cuts a series longer than the chart is wide to a minimum
and a maximum per pixel column (the M4 idea): the line looks the same as with every
point, spikes included, and the browser draws a few thousand points instead of
hundreds of thousands.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from watchkeeper.monitor.model import Labels
from watchkeeper.monitor.promql.value import Matrix

__all__ = ["Chart", "downsample", "series_label", "to_chart"]

MAX_SERIES = 20  # more lines than this on one chart are unreadable; the rest are cut

F64 = npt.NDArray[np.float64]


@dataclass
class Chart:
    """A chart's data and how to draw it (``unit``: "", "s", "%", "B", "reqps", "$")."""

    title: str
    unit: str = ""
    xs: list[float] = field(default_factory=list)  # Unix seconds
    series: list[tuple[str, list[float | None]]] = field(default_factory=list)
    truncated: int = 0  # series left out beyond MAX_SERIES
    error: str = ""

    @property
    def empty(self) -> bool:
        return not self.series

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "unit": self.unit,
            "data": [self.xs, *[values for _, values in self.series]],
            "labels": [name for name, _ in self.series],
            "truncated": self.truncated,
            "error": self.error,
        }


def series_label(labels: Labels, hide: Sequence[str] = ("__name__", "job", "instance")) -> str:
    """A legend entry: the labels that tell series apart, ``{}`` when none do."""
    shown = [f'{k}="{v}"' for k, v in labels if k not in hide]
    name = dict(labels).get("__name__", "")
    return f"{name}{{{', '.join(shown)}}}" if shown or not name else name


def to_chart(
    title: str,
    matrix: Matrix,
    start_ms: int,
    end_ms: int,
    step_ms: int,
    *,
    unit: str = "",
    label: Callable[[Labels], str] = series_label,
    max_points: int | None = None,
) -> Chart:
    """``matrix`` on the grid ``start..end`` by ``step``, at most ``max_points`` columns."""
    n = (end_ms - start_ms) // step_ms + 1
    xs = np.arange(n, dtype=np.float64) * (step_ms / 1000) + start_ms / 1000
    ordered = sorted(matrix.series, key=lambda s: label(s.labels))
    kept = ordered[:MAX_SERIES]
    ys = np.full((len(kept), n), np.nan)
    for row, s in enumerate(kept):
        if not s.points:
            continue
        pts = np.asarray(s.points, dtype=np.float64)
        idx = np.rint((pts[:, 0] - start_ms) / step_ms).astype(np.int64)
        ok = (idx >= 0) & (idx < n)
        ys[row, idx[ok]] = pts[ok, 1]
    if max_points is not None and n > max_points:
        xs, ys = downsample(xs, ys, max_points)
    chart = Chart(title, unit, truncated=len(ordered) - len(kept))
    chart.xs = xs.tolist()
    # A series with nothing to tell it apart is named after the chart, not "{}".
    chart.series = [(_legend(label(s.labels), title), _nullable(ys[i])) for i, s in enumerate(kept)]
    return chart


def _legend(text: str, title: str) -> str:
    return title if text in ("", "{}") else text


def _nullable(values: F64) -> list[float | None]:
    finite = np.isfinite(values)
    out: list[float | None] = values.tolist()
    if not finite.all():
        for i in np.flatnonzero(~finite):
            out[int(i)] = None
    return out


def downsample(xs: F64, ys: F64, columns: int) -> tuple[F64, F64]:
    """At most ``2 * (columns // 2)`` points: per bucket of consecutive points, its
    first time with each series' minimum and its last time with the maximum.

    ``ys`` is (series, points) with NaN for gaps; a bucket with no value for a series
    stays a gap. Shared x values keep every series aligned for uPlot.
    """
    n = xs.shape[0]
    buckets = max(columns // 2, 1)
    if n <= 2 * buckets:
        return xs, ys
    starts = np.linspace(0, n, buckets, endpoint=False).astype(np.int64)
    ends = np.append(starts[1:], n) - 1
    out_x = np.empty(2 * buckets)
    out_x[0::2] = xs[starts]
    out_x[1::2] = xs[ends]
    out_y = np.empty((ys.shape[0], 2 * buckets))
    if ys.shape[0]:
        # fmin/fmax skip NaN (a NaN only when a whole bucket is gaps), without warnings.
        out_y[:, 0::2] = np.fmin.reduceat(ys, starts, axis=1)
        out_y[:, 1::2] = np.fmax.reduceat(ys, starts, axis=1)
    return out_x, out_y
