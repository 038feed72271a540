"""A profile's findings, as text for humans and as fields for JSON logs."""

from __future__ import annotations

import pstats
import tracemalloc
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CpuRow", "MemoryRow", "ProfileReport", "cpu_rows_from_stats", "memory_rows"]


@dataclass(frozen=True, slots=True)
class CpuRow:
    """One function: where it is, how often it ran, its own and inclusive time."""

    function: str  # "module/file.py:42(name)"
    calls: int
    self_s: float
    cumulative_s: float


@dataclass(frozen=True, slots=True)
class MemoryRow:
    """One allocation site still holding memory at the end of the profile."""

    location: str  # "file.py:42"
    size_bytes: int
    count: int


@dataclass(frozen=True)
class ProfileReport:
    name: str
    duration_s: float
    cpu: list[CpuRow] = field(default_factory=list)
    cpu_unit: str = "s"  # "s" for cProfile seconds, "samples" for the sampler
    peak_bytes: int | None = None
    memory: list[MemoryRow] = field(default_factory=list)

    def text(self) -> str:
        lines = [f"profile {self.name!r}: {self.duration_s:.3f} s"]
        if self.cpu:
            unit = self.cpu_unit
            lines.append(f"  top functions by own {unit}:")
            lines.append(f"    {'own':>10} {'cumulative':>10} {'calls':>8}  function")
            for row in self.cpu:
                own, cum = _num(row.self_s, unit), _num(row.cumulative_s, unit)
                calls = "-" if unit == "samples" else str(row.calls)
                lines.append(f"    {own:>10} {cum:>10} {calls:>8}  {row.function}")
        if self.peak_bytes is not None:
            lines.append(f"  memory peak: {_bytes(self.peak_bytes)}")
            if self.memory:
                lines.append("  top allocations still held:")
                for m in self.memory:
                    lines.append(f"    {_bytes(m.size_bytes):>10} {m.count:>8}x  {m.location}")
        return "\n".join(lines) + "\n"

    def fields(self) -> dict[str, Any]:
        """The report as JSON-ready fields (for ``logger.info(..., extra=...)``)."""
        out: dict[str, Any] = {
            "profile": self.name,
            "profile_duration_s": round(self.duration_s, 6),
        }
        if self.cpu:
            out["profile_cpu_unit"] = self.cpu_unit
            out["profile_cpu_top"] = [
                {
                    "function": r.function,
                    "calls": r.calls,
                    "self": round(r.self_s, 6),
                    "cumulative": round(r.cumulative_s, 6),
                }
                for r in self.cpu
            ]
        if self.peak_bytes is not None:
            out["profile_memory_peak_bytes"] = self.peak_bytes
            out["profile_memory_top"] = [
                {"location": m.location, "size_bytes": m.size_bytes, "count": m.count}
                for m in self.memory
            ]
        return out


def _num(value: float, unit: str) -> str:
    return f"{int(value)}" if unit == "samples" else f"{value:.6f}"


def _bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(size) < 1024 or unit == "GiB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{int(size)} B"
        size /= 1024
    return f"{n} B"  # pragma: no cover - the loop always returns


def cpu_rows_from_stats(stats: pstats.Stats, top: int, exclude: tuple[str, ...]) -> list[CpuRow]:
    """The ``top`` functions by own time from cProfile's stats, skipping ``exclude`` files."""
    rows = []
    # pstats' raw table: (file, line, name) -> (primitive calls, calls, own, cumulative, callers)
    table: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    for (filename, line, name), (_, calls, own, cumulative, _) in table.items():
        if filename.startswith(exclude):
            continue
        where = f"{filename}:{line}({name})" if line else name
        rows.append(CpuRow(where, calls, own, cumulative))
    rows.sort(key=lambda r: (-r.self_s, -r.cumulative_s, r.function))
    return rows[:top]


def memory_rows(snapshot: tracemalloc.Snapshot, top: int) -> list[MemoryRow]:
    stats = snapshot.statistics("lineno")
    out = []
    for stat in stats[:top]:
        frame = stat.traceback[0]
        out.append(MemoryRow(f"{frame.filename}:{frame.lineno}", stat.size, stat.count))
    return out
