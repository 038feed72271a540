"""The state every console page keeps in its URL: time range, end, refresh, width.

``?range=6h&end=1700000000&refresh=30s&width=1200``: no ``end`` means "now" (a live
view that auto-refreshes); a given ``end`` pins the view (a link to an incident).
Bad values fall back to the defaults rather than failing the page: a console link
typed by hand should still show something, and the picker shows what was used.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

__all__ = [
    "RANGES",
    "REFRESHES",
    "View",
    "parse_view",
]

# The picker's choices (label -> seconds), 15m … 30d.
RANGES: dict[str, int] = {
    "15m": 900,
    "1h": 3600,
    "3h": 3 * 3600,
    "6h": 6 * 3600,
    "12h": 12 * 3600,
    "1d": 86400,
    "7d": 7 * 86400,
    "30d": 30 * 86400,
}
REFRESHES: dict[str, int] = {"off": 0, "10s": 10, "30s": 30, "1m": 60, "5m": 300}
DEFAULT_RANGE = "1h"
DEFAULT_REFRESH = "30s"
DEFAULT_WIDTH = 1000  # chart width in CSS pixels when the browser did not say
MIN_WIDTH, MAX_WIDTH = 100, 4000
MIN_STEP_MS = 1000
# Prometheus' default scrape interval; rate windows never go below 4 of them, like
# Grafana's $__rate_interval, so a rate always sees several samples.
SCRAPE_INTERVAL_MS = 15_000


@dataclass(frozen=True)
class View:
    range_key: str
    end_ms: int
    pinned: bool  # an explicit end: no auto-refresh
    refresh_key: str
    width: int

    @property
    def range_ms(self) -> int:
        return RANGES[self.range_key] * 1000

    @property
    def start_ms(self) -> int:
        return self.end_ms - self.range_ms

    @property
    def refresh_s(self) -> int:
        return 0 if self.pinned else REFRESHES[self.refresh_key]

    def step_ms(self, points: int | None = None, floor_ms: int = MIN_STEP_MS) -> int:
        """One point per pixel (or per ``points``): never more points than can be drawn,
        and (``floor_ms``, e.g. the scrape interval) none closer than the data is."""
        n = max(points or self.width, 1)
        return max(math.ceil(self.range_ms / n / 1000) * 1000, floor_ms, MIN_STEP_MS)

    def rate_window(self, step_ms: int) -> str:
        """A window for ``rate()`` at ``step_ms``: at least 4 scrapes, at least one step,
        so no sample falls between two points of the chart."""
        seconds = max(4 * SCRAPE_INTERVAL_MS, step_ms) // 1000
        return f"{seconds}s"

    def aligned(self, step_ms: int) -> tuple[int, int]:
        """(start, end) on multiples of ``step_ms``: the same points at every refresh,
        so a chart does not wobble as time moves on."""
        end = self.end_ms - self.end_ms % step_ms
        return end - self.range_ms, end

    def query(self, *, live: bool = False, **extra: str | int | None) -> str:
        """The URL query string of this view, with ``extra`` keys (None drops one);
        ``live`` drops the pinned end."""
        params: dict[str, str | int] = {"range": self.range_key}
        if self.pinned and not live:
            params["end"] = self.end_ms // 1000
        if self.refresh_key != DEFAULT_REFRESH:
            params["refresh"] = self.refresh_key
        for key, value in extra.items():
            if value is not None and value != "":
                params[key] = value
        return urlencode(params)


def _int(text: str | None, lo: int, hi: int) -> int | None:
    if not text:
        return None
    try:
        value = int(float(text))
    except ValueError:
        return None
    return min(max(value, lo), hi)


def parse_view(params: Mapping[str, str], now_ms: int) -> View:
    """The view a URL asks for; unknown or malformed values take the defaults."""
    range_key = params.get("range", DEFAULT_RANGE)
    if range_key not in RANGES:
        range_key = DEFAULT_RANGE
    refresh_key = params.get("refresh", DEFAULT_REFRESH)
    if refresh_key not in REFRESHES:
        refresh_key = DEFAULT_REFRESH
    end_s = _int(params.get("end"), 0, now_ms // 1000)
    width = _int(params.get("width"), MIN_WIDTH, MAX_WIDTH) or DEFAULT_WIDTH
    if end_s is None:
        return View(range_key, now_ms, False, refresh_key, width)
    return View(range_key, end_s * 1000, True, refresh_key, width)
