"""Error tracking: unhandled exceptions counted, fingerprinted and logged with context.

What Sentry does first, without a service: every unhandled exception in a request
or an ``@measured`` function is

- counted in ``watchkeeper_exceptions_total{type, route, function}``;
- given a stable fingerprint: the exception's type plus the innermost frames of
  the application's own code, each as (module, function) with no line numbers, so
  an edit that only moves lines keeps the group;
- logged as one ERROR line with the fingerprint and the request's context (the
  logs package adds request_id and trace ids to every line). The traceback goes
  with the first line of a group, then at most once a minute per group, so an
  error storm cannot flood the logs;
- sent to Sentry too when the app has configured ``sentry_sdk`` (never required).

The HTTP middlewares call ``track`` only when a request raised (or a framework
handled an exception as a 500), so a healthy request pays nothing for it.
Recording the exception on the active span is the tracing hook's part.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import sys
import sysconfig
import threading
import time
from collections import OrderedDict
from types import TracebackType
from typing import Any

from watchkeeper.instrument import faults
from watchkeeper.instrument.registry import REGISTRY, Registry

__all__ = ["ErrorTracker", "fingerprint", "is_app_error", "tracker"]

logger = logging.getLogger("watchkeeper.errors")

FINGERPRINT_FRAMES = 5  # innermost app frames that name a group
_TRACEBACK_EVERY_S = 60.0
_MAX_GROUPS = 1_000  # groups remembered for traceback rate limiting (oldest forgotten)

# Code that is not the application's: the standard library, installed packages, us.
_NOT_APP = tuple(
    os.path.normcase(os.path.abspath(p)) + os.sep
    for p in {
        sysconfig.get_paths()["stdlib"],
        sysconfig.get_paths()["platstdlib"],
        sysconfig.get_paths()["purelib"],
        sysconfig.get_paths()["platlib"],
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))),  # watchkeeper
    }
)


def _is_app_file(filename: str) -> bool:
    if filename.startswith("<"):  # <frozen ...>, <string>
        return False
    path = os.path.normcase(os.path.abspath(filename))
    return not path.startswith(_NOT_APP) and "site-packages" not in path


def _frames(tb: TracebackType | None) -> list[tuple[str, str, str]]:
    """(filename, module, qualified function) per frame, outermost first."""
    frames = []
    while tb is not None:
        code = tb.tb_frame.f_code
        module = str(tb.tb_frame.f_globals.get("__name__", "?"))
        frames.append((code.co_filename, module, getattr(code, "co_qualname", code.co_name)))
        tb = tb.tb_next
    return frames


def fingerprint(exc: BaseException) -> str:
    """A stable group id: type + the innermost app frames as (module, function).

    Line numbers are left out on purpose: adding a line above the failing one must
    not split a group. Without any app frame (an error inside a library called from
    nowhere of ours), the innermost frames of any code stand in.
    """
    frames = _frames(exc.__traceback__)
    app = [f for f in frames if _is_app_file(f[0])] or frames
    parts = [f"{type(exc).__module__}.{type(exc).__qualname__}"]
    parts.extend(f"{module}:{function}" for _, module, function in app[-FINGERPRINT_FRAMES:])
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


class ErrorTracker:
    """Counts, fingerprints and logs unhandled exceptions for one registry."""

    def __init__(self, registry: Registry = REGISTRY) -> None:
        self.registry = registry
        self.counter = registry.counter(
            "watchkeeper_exceptions",
            "Unhandled exceptions by type, in requests (route) and @measured functions.",
            ["type", "route", "function"],
        )
        self._lock = threading.Lock()
        self._last_traceback: OrderedDict[str, float] = OrderedDict()

    def track(
        self, exc: BaseException, *, route: str = "", function: str = "", method: str = ""
    ) -> str | None:
        """Record one unhandled exception; returns its fingerprint. Never raises."""
        try:
            kind = type(exc).__qualname__
            self.counter.labels(kind, route, function).inc()
            group = fingerprint(exc)
            where = f"{method} {route}".strip() if route else function or "?"
            fields: dict[str, Any] = {
                "error_fingerprint": group,
                "error_type": kind,
            }
            if route:
                fields["http_route"] = route
            if method:
                fields["http_request_method"] = method
            if function:
                fields["function"] = function
            logger.error(
                "unhandled %s in %s: %s",
                kind,
                where,
                exc,
                exc_info=exc if self._traceback_due(group) else None,
                extra=fields,
            )
            _to_sentry(exc)
            return group
        except Exception as fault:
            faults.report("errors.track", fault, self.registry)
            return None

    def _traceback_due(self, group: str) -> bool:
        now = time.monotonic()
        with self._lock:
            last = self._last_traceback.get(group)
            if last is not None and now - last < _TRACEBACK_EVERY_S:
                return False
            self._last_traceback[group] = now
            self._last_traceback.move_to_end(group)
            while len(self._last_traceback) > _MAX_GROUPS:
                self._last_traceback.popitem(last=False)
            return True


_trackers: dict[int, ErrorTracker] = {}
_trackers_lock = threading.Lock()


def tracker(registry: Registry = REGISTRY) -> ErrorTracker:
    """The one tracker of ``registry`` (its counter can be registered only once)."""
    with _trackers_lock:
        found = _trackers.get(id(registry))
        if found is None or found.registry is not registry:
            found = _trackers[id(registry)] = ErrorTracker(registry)
        return found


def is_app_error(exc: BaseException) -> bool:
    """Cancellation and interpreter exits are not the application's errors."""
    return not isinstance(exc, asyncio.CancelledError | GeneratorExit | KeyboardInterrupt)


def _to_sentry(exc: BaseException) -> None:
    # Only when the app itself imported and configured Sentry: never import it here.
    sentry = sys.modules.get("sentry_sdk")
    if sentry is None:
        return
    get_client = getattr(sentry, "get_client", None)
    if get_client is not None and not get_client().is_active():
        return
    # Sentry's own integrations may have captured it already: its dedupe drops repeats.
    sentry.capture_exception(exc)
