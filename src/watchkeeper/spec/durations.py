"""Prometheus-style durations (``30d``, ``1h30m``) as exact whole seconds.

Burn-rate factors are derived from ratios of durations, so durations are integers
(never floats) and print back in Prometheus' canonical form: the same value always
renders the same way, which keeps generated files stable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["Duration", "parse_duration"]

_UNITS: tuple[tuple[str, int], ...] = (
    ("y", 365 * 86400),
    ("w", 7 * 86400),
    ("d", 86400),
    ("h", 3600),
    ("m", 60),
    ("s", 1),
)
_PATTERN = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


@dataclass(frozen=True, order=True)
class Duration:
    """A non-negative whole number of seconds, printed like Prometheus prints it."""

    seconds: int

    def __str__(self) -> str:
        if self.seconds == 0:
            return "0s"
        rest = self.seconds
        parts: list[str] = []
        # Prometheus prints weeks/years only when they divide evenly; days read better.
        for unit, size in _UNITS[2:]:
            count, rest = divmod(rest, size)
            if count:
                parts.append(f"{count}{unit}")
        return "".join(parts)

    @property
    def minutes(self) -> int:
        return self.seconds // 60


def parse_duration(value: Any) -> Duration:
    """Parse ``"5m"``, ``"1h30m"``, ``"30d"``; raise ValueError naming the accepted form."""
    if isinstance(value, Duration):
        return value
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(f"must be a duration string such as 5m, 1h or 30d, got {value!r}")
    match = _PATTERN.match(value.strip())
    if not value.strip() or match is None:
        raise ValueError(
            f"must be a duration such as 30s, 5m, 1h30m or 30d (units y w d h m s), got {value!r}"
        )
    total = 0
    for group, (_, size) in zip(match.groups(), _UNITS, strict=True):
        if group:
            total += int(group) * size
    return Duration(total)
