"""Small helpers shared by the bench_* modules: medians, tables, the machine line.

Kept free of any benchmarked library so importing it measures nothing.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
from collections.abc import Sequence
from pathlib import Path

__all__ = ["machine", "median", "revision", "table", "verdict"]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def machine() -> str:
    """One line naming what the numbers were measured on (they only hold there)."""
    return (
        f"machine: {os.cpu_count()} CPUs ({platform.machine()}), "
        f"{platform.python_implementation()} {platform.python_version()}, {platform.system()}"
    )


def revision(*paths: str) -> str:
    """The commit measured, and whether ``paths`` had uncommitted changes then.

    Numbers are only comparable for the same code; several people commit here.
    """
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root, capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", *paths],
            cwd=root, capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "revision: unknown (git unavailable here)"
    where = " ".join(paths) or "the tree"
    state = f"uncommitted changes in {where}" if dirty else f"{where} clean"
    return f"revision: {head} ({state})"


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
