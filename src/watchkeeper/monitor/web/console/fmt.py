"""Numbers and times as people read them; registered as Jinja filters."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

__all__ = ["FILTERS", "ago", "bytes_", "duration", "number", "percent", "unit"]


def number(value: float | str | None, digits: int = 3) -> str:
    """3 significant digits with an SI suffix: 1234 -> 1.23k, 0.000512 -> 512µ
    (strings too: alert values come as Prometheus prints them)."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return str(value)
    if value is None or not math.isfinite(value):
        return "–"
    if value == 0:
        return "0"
    for factor, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.{digits}g}{suffix}"
    if abs(value) >= 0.01:
        return f"{value:.{digits}g}"
    for factor, suffix in ((1e-3, "m"), (1e-6, "µ"), (1e-9, "n")):
        if abs(value) >= factor:
            return f"{value / factor:.{digits}g}{suffix}"
    return f"{value:.{digits}g}"


def percent(value: float | None, digits: int = 3) -> str:
    """3 significant digits below 100% (99.9%, 0.052%), whole numbers above (1720%)."""
    if value is None or not math.isfinite(value):
        return "–"
    pct = value * 100
    if abs(pct) >= 100:
        return f"{pct:.0f}%"
    return f"{pct:.{digits}g}%"


def duration(seconds: float | None) -> str:
    """Latency and spans: 0.0123 -> 12.3ms, 90 -> 1m30s, 200000 -> 2d7h."""
    if seconds is None or not math.isfinite(seconds):
        return "–"
    if seconds < 0:
        return "-" + duration(-seconds)
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3g}µs"
    if seconds < 1:
        return f"{seconds * 1e3:.3g}ms"
    if seconds < 60:
        return f"{seconds:.3g}s"
    s = int(seconds)
    for size, name, sub, subname in (
        (86400, "d", 3600, "h"),
        (3600, "h", 60, "m"),
        (60, "m", 1, "s"),
    ):
        if s >= size:
            rest = (s % size) // sub
            return f"{s // size}{name}{rest}{subname}" if rest else f"{s // size}{name}"
    return f"{s}s"


def bytes_(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    for factor, suffix in ((1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if abs(value) >= factor:
            return f"{value / factor:.3g} {suffix}"
    return f"{value:.0f} B"


def unit(value: float | None, kind: str) -> str:
    """``value`` in the chart units of ``charts.Chart.unit``."""
    if kind == "s":
        return duration(value)
    if kind == "%":
        return percent(value)
    if kind == "B":
        return bytes_(value)
    if kind == "reqps":
        return number(value) + "/s"
    if kind == "$":
        return "$" + number(value)
    return number(value)


def ago(ts: float | datetime | None, now: float | None = None) -> str:
    """``12s ago`` for a Unix time or datetime; ``never`` for none."""
    if ts is None or ts == 0:
        return "never"
    seconds = ts.timestamp() if isinstance(ts, datetime) else float(ts)
    delta = (time.time() if now is None else now) - seconds
    return "just now" if delta < 1 else f"{duration(delta)} ago"


def iso(ts_ms: float | None) -> str:
    if not ts_ms:
        return ""
    return datetime.fromtimestamp(ts_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


FILTERS = {
    "number": number,
    "percent": percent,
    "duration": duration,
    "bytes": bytes_,
    "unit": unit,
    "ago": ago,
    "iso": iso,
}
