"""Containing faults: the SDK never raises into the host application.

Any exception inside watchkeeper's own code on the request path is counted in
``watchkeeper_internal_errors_total{component}``, logged at most once a minute per
component (with the traceback the first time), and swallowed.
"""

from __future__ import annotations

import logging
import time

from watchkeeper.instrument.registry import REGISTRY, Registry

__all__ = ["report"]

logger = logging.getLogger("watchkeeper")
_LOG_EVERY_S = 60.0
_last_logged: dict[str, float] = {}


def report(component: str, exc: BaseException | None = None, registry: Registry = REGISTRY) -> None:
    """Count and (rate-limited) log a contained internal fault. Never raises."""
    try:
        registry.internal_errors.labels(component).inc()
        now = time.monotonic()
        last = _last_logged.get(component)
        if last is None or now - last >= _LOG_EVERY_S:
            _last_logged[component] = now
            logger.warning(
                "watchkeeper: internal error in %s was contained; the application is unaffected "
                "(further errors here are only counted in watchkeeper_internal_errors_total "
                "for %d s): %r",
                component,
                int(_LOG_EVERY_S),
                exc,
                exc_info=exc if last is None else None,
            )
    except Exception:  # pragma: no cover - the last line of defence must not fail
        pass
