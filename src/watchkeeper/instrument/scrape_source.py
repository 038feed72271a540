"""A value fetched at scrape time from a backend that may be slow: bounded wait, cached.

Queue depths and Redis ``INFO`` are read when /metrics is rendered, and /metrics is
rendered on the request path (in ASGI apps, on the event loop). A backend that
hangs must not stall the scrape, nor pile up threads:

- a value younger than ``ttl`` is served from the cache (two scrapers, or a scraper
  and the embedded monitor, cost the backend one call);
- otherwise one daemon thread fetches it, and the scrape waits at most ``timeout``;
- while a fetch is still running no second one starts (a hung backend holds one
  thread, not one per scrape);
- a fetch that has not finished in time serves the last good value while it is
  younger than ``max_age``, then nothing; a fetch that failed serves nothing (the
  series disappears: absent data, not a frozen number, is the honest answer about a
  backend we cannot read). Failures and timeouts are counted in
  ``watchkeeper_internal_errors_total{component}``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from time import monotonic
from typing import Generic, TypeVar

from watchkeeper.instrument import faults
from watchkeeper.instrument.registry import Registry

__all__ = ["ScrapeSource"]

T = TypeVar("T")


class ScrapeSource(Generic[T]):
    """``get()`` returns ``fetch()``'s latest value within ``timeout`` seconds, or None."""

    def __init__(
        self,
        fetch: Callable[[], T],
        *,
        component: str,
        registry: Registry,
        timeout: float = 0.5,
        ttl: float = 1.0,
        max_age: float = 60.0,
    ) -> None:
        self.fetch = fetch
        self.component = component
        self.registry = registry
        self.timeout = timeout
        self.ttl = ttl
        self.max_age = max_age
        self._lock = threading.Lock()
        self._value: T | None = None
        self._at = float("-inf")  # monotonic time of the last good value
        self._running: threading.Event | None = None

    def kick(self) -> threading.Event | None:
        """Start a fetch unless the cache is fresh or one is running; None when fresh.

        Callers with several sources kick them all first, then ``get()`` each: the
        fetches overlap and one scrape waits about ``timeout`` in total, not per source.
        """
        with self._lock:
            if monotonic() - self._at < self.ttl:
                return None
            done = self._running
            if done is None:
                done = self._running = threading.Event()
                threading.Thread(
                    target=self._refresh, args=(done,), name=f"watchkeeper-{self.component}",
                    daemon=True,
                ).start()  # fmt: skip
            return done

    def get(self, wait: float | None = None) -> T | None:
        """The value, waiting at most ``wait`` seconds (default ``timeout``) for a fetch."""
        done = self.kick()
        if done is not None and not done.wait(self.timeout if wait is None else wait):
            faults.report(
                self.component,
                TimeoutError(f"{self.component}: no answer within {self.timeout} s"),
                self.registry,
            )
        with self._lock:
            if monotonic() - self._at < max(self.max_age, self.ttl):
                return self._value
            return None

    def _refresh(self, done: threading.Event) -> None:
        try:
            value = self.fetch()
        except Exception as exc:
            faults.report(self.component, exc, self.registry)
            with self._lock:
                self._at = float("-inf")  # the backend answered with an error: no value
        else:
            with self._lock:
                self._value = value
                self._at = monotonic()
        finally:
            with self._lock:
                self._running = None
            done.set()
