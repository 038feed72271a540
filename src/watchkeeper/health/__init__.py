"""Health probes: liveness, readiness and a detailed report over checks of your dependencies.

    from watchkeeper import health

    app = watchkeeper.instrument(app, checks=[
        health.postgres(engine),                     # critical: /ready fails without it
        health.redis(cache_client, critical=False),  # non-critical: only "degraded"
        health.canary(lambda: verify("2+2"), expect=4, name="verify"),
    ])

    @health.check("payments", timeout=1.0)           # any sync or async callable
    def payments_up() -> bool: ...

``instrument()`` serves ``/health``, ``/ready`` and ``/health/detailed`` (see
docs/health.md); ``health.of(app)`` is an instrumented app's ``HealthRegistry``.
"""

from __future__ import annotations

from typing import Any

from watchkeeper.errors import ConfigurationError
from watchkeeper.health.builtin import canary, disk, http, memory, postgres, redis, tcp
from watchkeeper.health.checks import DEFAULT_CACHE, DEFAULT_TIMEOUT, Check, CheckResult
from watchkeeper.health.endpoints import HealthEndpoints, HealthPaths
from watchkeeper.health.registry import (
    DEFAULT,
    HealthRegistry,
    HealthReport,
    Status,
    add_check,
    check,
)

__all__ = [
    "DEFAULT",
    "DEFAULT_CACHE",
    "DEFAULT_TIMEOUT",
    "Check",
    "CheckResult",
    "HealthEndpoints",
    "HealthPaths",
    "HealthRegistry",
    "HealthReport",
    "Status",
    "add_check",
    "canary",
    "check",
    "disk",
    "http",
    "memory",
    "of",
    "postgres",
    "redis",
    "tcp",
]


def of(app: Any) -> HealthRegistry:
    """The ``HealthRegistry`` of an app returned by ``watchkeeper.instrument()``."""
    wk = getattr(app, "__watchkeeper__", None)
    endpoints = getattr(wk, "health", None)
    if not isinstance(endpoints, HealthEndpoints):
        raise ConfigurationError(
            f"{type(app).__name__} has no health probes: call watchkeeper.instrument(app) "
            "(without health=False) and pass the app it returns"
        )
    return endpoints.checks
