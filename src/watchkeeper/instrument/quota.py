"""``watchkeeper.quota``: how much of an external quota is left, for the QuotaLow and
QuotaExhaustionPredicted alerts.

    watchkeeper.quota("qwed_api", refresh=client.get_quota_status)   # polled at scrape time
    watchkeeper.quota("emails").set(limit=10_000, used=812)          # or pushed by the app

Gauges ``quota_limit``, ``quota_used`` and ``quota_remaining`` labelled ``quota``,
plus ``quota_last_refresh_timestamp_seconds`` (to see stale data) and
``quota_refresh_failures_total``. A quota shows no series until its first value:
a missing value is not a zero (which would page someone about an empty quota).

The refresh callback returns anything with two of ``limit``/``used``/``remaining``
(attributes or mapping keys; ``total`` means ``limit``); the third is derived. It
is called at scrape time at most once per ``max_age`` seconds, in a worker
thread, and the scrape waits for it at most ``timeout`` seconds: a slow quota API
delays one scrape by at most the timeout and then the last values are served
while it finishes. A failing or hanging callback never raises into the app.
Async callbacks run on their own event loop in that thread.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from watchkeeper.errors import ConfigurationError
from watchkeeper.instrument import faults
from watchkeeper.instrument.registry import REGISTRY, Registry

__all__ = ["Quota", "QuotaStatus", "quota"]

logger = logging.getLogger("watchkeeper")
_EXTENSION = "quotas"
_LOG_EVERY_S = 60.0
_ALIASES = {"limit": ("limit", "total"), "used": ("used",), "remaining": ("remaining",)}

QuotaStatus = tuple[float | None, float | None, float | None]


def parse_status(status: Any) -> QuotaStatus:
    """(limit, used, remaining) from an object or mapping; raises ValueError if unusable."""
    found: dict[str, float | None] = {}
    for field, names in _ALIASES.items():
        found[field] = None
        for name in names:
            raw = status.get(name) if isinstance(status, Mapping) else getattr(status, name, None)
            if raw is not None:
                if isinstance(raw, bool) or not isinstance(raw, int | float) or raw != raw:
                    raise ValueError(f"quota status {name!r} must be a number, got {raw!r}")
                found[field] = float(raw)
                break
    limit, used, remaining = found["limit"], found["used"], found["remaining"]
    if remaining is None and limit is not None and used is not None:
        remaining = limit - used
    if used is None and limit is not None and remaining is not None:
        used = limit - remaining
    if limit is None and used is not None and remaining is not None:
        limit = used + remaining
    if remaining is None:
        raise ValueError(
            f"quota status {status!r} needs two of limit (or total), used and remaining, "
            "as attributes or mapping keys"
        )
    return limit, used, remaining


class Quota:
    """One named quota: its gauges and, optionally, the callback that refreshes them."""

    def __init__(
        self,
        name: str,
        registry: Registry,
        refresh: Callable[[], Any] | None = None,
        max_age: float = 30.0,
        timeout: float = 2.0,
    ) -> None:
        if not name or len(name) > 100:
            raise ConfigurationError(f"quota name must be 1-100 characters, got {name!r}")
        if max_age < 0 or timeout <= 0:
            raise ConfigurationError(
                f"quota {name!r}: max_age must be >= 0 and timeout > 0 seconds, "
                f"got max_age={max_age}, timeout={timeout}"
            )
        self.name = name
        self.registry = registry
        self.refresh = refresh
        self.max_age = max_age
        self.timeout = timeout
        self.clock: Callable[[], float] = time.monotonic
        self._lock = threading.Lock()
        self._started_at: float | None = None  # monotonic time of the last refresh start
        self._running: threading.Event | None = None  # set when the refresh in flight ends
        self._last_logged = -_LOG_EVERY_S
        doc = "quota (an external API's allowance) by name."
        self._limit = registry.gauge("quota_limit", "The size of a " + doc, ["quota"],
                                     multiprocess_mode="livemax")  # fmt: skip
        self._used = registry.gauge("quota_used", "What is used of a " + doc, ["quota"],
                                    multiprocess_mode="livemax")  # fmt: skip
        self._remaining = registry.gauge("quota_remaining", "What is left of a " + doc, ["quota"],
                                         multiprocess_mode="livemax")  # fmt: skip
        self._updated = registry.gauge(
            "quota_last_refresh_timestamp_seconds",
            "Unix time when a quota's values last changed hands (refresh or set).",
            ["quota"], multiprocess_mode="livemax",
        )  # fmt: skip
        self._failures = registry.counter(
            "quota_refresh_failures",
            "Quota refresh callbacks that failed, timed out or returned something unusable.",
            ["quota"],
        )

    def set(
        self, limit: float | None = None, used: float | None = None, remaining: float | None = None
    ) -> None:
        """Push the current values (any two of the three). Never raises."""
        try:
            self._apply(parse_status({"limit": limit, "used": used, "remaining": remaining}))
        except Exception as exc:
            faults.report(f"quota.set:{self.name}", exc, self.registry)

    def _apply(self, status: QuotaStatus) -> None:
        limit, used, remaining = status
        if limit is not None:
            self._limit.labels(self.name).set(limit)
        if used is not None:
            self._used.labels(self.name).set(used)
        if remaining is not None:
            self._remaining.labels(self.name).set(remaining)
        self._updated.labels(self.name).set(time.time())

    # -- refresh at scrape time ---------------------------------------------------------
    def on_scrape(self) -> None:
        """Refresh if the values are older than ``max_age``; wait at most ``timeout``."""
        if self.refresh is None:
            return
        with self._lock:
            now = self.clock()
            if self._running is not None:  # a slow call is still going: serve the last values
                return
            if self._started_at is not None and now - self._started_at < self.max_age:
                return
            self._started_at = now
            done = self._running = threading.Event()
        thread = threading.Thread(
            target=self._run, args=(done,), name=f"watchkeeper-quota-{self.name}", daemon=True
        )
        thread.start()
        if not done.wait(self.timeout):
            self._failed(TimeoutError(f"refresh took longer than {self.timeout} s"))

    def _run(self, done: threading.Event) -> None:
        try:
            assert self.refresh is not None
            result = self.refresh()
            if inspect.isawaitable(result):
                result = asyncio.run(_await(result))
            self._apply(parse_status(result))
        except Exception as exc:
            self._failed(exc)
        finally:
            with self._lock:
                self._running = None
            done.set()

    def _failed(self, exc: BaseException) -> None:
        try:
            self._failures.labels(self.name).inc()
            now = time.monotonic()
            if now - self._last_logged >= _LOG_EVERY_S:
                self._last_logged = now
                logger.warning(
                    "watchkeeper: quota %r could not be refreshed (%s: %s); serving the last "
                    "values (failures are counted in quota_refresh_failures_total)",
                    self.name, type(exc).__name__, exc,
                )  # fmt: skip
        except Exception as inner:  # pragma: no cover - defensive
            faults.report("quota", inner, self.registry)


async def _await(awaitable: Any) -> Any:
    return await awaitable


def _quotas(registry: Registry) -> dict[str, Quota]:
    found = registry.extensions.get(_EXTENSION)
    if isinstance(found, dict):
        return found
    quotas: dict[str, Quota] = {}
    registry.extensions[_EXTENSION] = quotas

    def refresh_all() -> None:
        for q in list(quotas.values()):
            try:
                q.on_scrape()
            except Exception as exc:
                faults.report("quota", exc, registry)

    registry.add_pre_collect(refresh_all)
    return quotas


def quota(
    name: str,
    refresh: Callable[[], Any] | None = None,
    *,
    max_age: float = 30.0,
    timeout: float = 2.0,
    registry: Registry | None = None,
) -> Quota:
    """Declare (or re-declare) the quota ``name``; see the module docstring."""
    reg = registry or REGISTRY
    made = Quota(name, reg, refresh, max_age, timeout)
    _quotas(reg)[name] = made
    return made
