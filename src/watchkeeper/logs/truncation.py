"""Truncation: long values are cut at a configurable length, with a marker.

A log line is read by people and shipped to stores that charge by the byte; one
runaway value (a request body, a giant repr) must not make a line megabytes long.
The marker says how much was cut, so nobody mistakes a cut value for the whole.
"""

from __future__ import annotations

__all__ = ["DEFAULT_LIMIT", "truncate"]

DEFAULT_LIMIT = 1_000


def truncate(text: str, limit: int | None) -> str:
    """``text`` cut to ``limit`` characters plus ``…[truncated N chars]``; unchanged if short.

    ``limit=None`` (or 0) turns truncation off.
    """
    if not limit or len(text) <= limit:
        return text
    return f"{text[:limit]}…[truncated {len(text) - limit} chars]"
