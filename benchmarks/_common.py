"""Small helpers shared by the bench_* modules: medians, tables, the machine line.

Kept free of any benchmarked library so importing it measures nothing.
"""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Sequence

__all__ = ["machine", "median", "table", "verdict"]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def machine() -> str:
    """One line naming what the numbers were measured on (they only hold there)."""
    return (
        f"machine: {os.cpu_count()} CPUs ({platform.machine()}), "
        f"{platform.python_implementation()} {platform.python_version()}, {platform.system()}"
    )


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain left/right aligned text table (first column left, the rest right)."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
            for i, cell in enumerate(cells)
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"
