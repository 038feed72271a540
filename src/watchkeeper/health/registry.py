"""The checks of an application, run together: concurrently, bounded, never raising.

``HealthRegistry.run()`` (sync, for WSGI and scripts) and ``run_async()`` (for
ASGI) start every check at once and wait for each until its own deadline, so a
probe costs about the slowest check's timeout, never their sum. The verdict:

- ``healthy``: every check passed;
- ``degraded``: only non-critical checks failed (still ready, HTTP 200);
- ``unhealthy``: a critical check failed (not ready, HTTP 503).

Each run updates the app's metrics: ``watchkeeper_health_check_status{check,
critical}`` (1/0), ``watchkeeper_health_check_duration_seconds{check}`` (a gauge:
the latency of the run that produced the latest answer) and
``watchkeeper_health_check_last_success_timestamp_seconds{check}``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from time import perf_counter
from typing import Any, Literal, TypeVar, overload

import orjson

from watchkeeper.errors import ConfigurationError
from watchkeeper.health.checks import DEFAULT_CACHE, DEFAULT_TIMEOUT, Check, CheckResult, describe
from watchkeeper.instrument import faults
from watchkeeper.instrument.registry import REGISTRY, Registry

__all__ = ["DEFAULT", "HealthRegistry", "HealthReport", "Status", "add_check", "check"]

Status = Literal["healthy", "degraded", "unhealthy"]
F = TypeVar("F", bound=Callable[..., Any])


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1000):03d}Z"


@dataclass(frozen=True, slots=True)
class HealthReport:
    """The answers of one run and the verdict over them."""

    status: Status
    results: tuple[CheckResult, ...]
    duration: float

    @classmethod
    def of(cls, results: Iterable[CheckResult], duration: float) -> HealthReport:
        results = tuple(results)
        status: Status = "healthy"
        if any(not r.ok and r.critical for r in results):
            status = "unhealthy"
        elif any(not r.ok for r in results):
            status = "degraded"
        return cls(status, results, duration)

    @property
    def ready(self) -> bool:
        """Every critical check passed."""
        return all(r.ok for r in self.results if r.critical)

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "duration_ms": round(self.duration * 1000, 3),
            "checks": {
                r.name: {
                    "status": "pass" if r.ok else "fail",
                    "critical": r.critical,
                    "latency_ms": round(r.latency * 1000, 3),
                    "error": r.error,
                    "last_success": _iso(r.last_success),
                    "checked_at": _iso(r.checked_at),
                    "cached": r.cached,
                }
                for r in self.results
            },
        }

    def to_json(self) -> bytes:
        return orjson.dumps(self.as_dict())


class HealthRegistry:
    """The checks of one app (plus those of ``parent``, e.g. the process-wide ``DEFAULT``)."""

    def __init__(
        self,
        checks: Iterable[Check | Callable[[], Any]] = (),
        *,
        registry: Registry | None = None,
        parent: HealthRegistry | None = None,
    ) -> None:
        self.registry = registry or REGISTRY
        self.parent = parent
        self._checks: dict[str, Check] = {}
        self._metrics: _Metrics | None = None
        for item in checks:
            self.add_check(item)

    # -- registering --------------------------------------------------------------------
    def add_check(
        self,
        fn: Check | Callable[[], Any],
        *,
        name: str | None = None,
        critical: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
        cache: float = DEFAULT_CACHE,
    ) -> Check:
        """Register a ``Check`` (as is) or any sync/async callable (wrapped in one)."""
        if isinstance(fn, Check):
            check = fn
        else:
            check = Check(fn, name=name, critical=critical, timeout=timeout, cache=cache)
        if check.name in self._checks:
            raise ConfigurationError(
                f"a health check named {check.name!r} is already registered: give this one "
                "another name=, or remove() the old one first"
            )
        self._checks[check.name] = check
        return check

    @overload
    def check(self, name: F) -> F: ...
    @overload
    def check(
        self,
        name: str | None = None,
        *,
        critical: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
        cache: float = DEFAULT_CACHE,
    ) -> Callable[[F], F]: ...
    def check(
        self,
        name: str | F | None = None,
        *,
        critical: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
        cache: float = DEFAULT_CACHE,
    ) -> F | Callable[[F], F]:
        """Decorator: ``@health.check`` or ``@health.check("db", critical=False, timeout=1)``."""
        if callable(name):
            self.add_check(name)
            return name

        def register(fn: F) -> F:
            self.add_check(fn, name=name, critical=critical, timeout=timeout, cache=cache)
            return fn

        return register

    def remove(self, name: str) -> None:
        """Unregister the check ``name`` of this registry (a missing name is ignored)."""
        self._checks.pop(name, None)

    @property
    def checks(self) -> list[Check]:
        """Every check that runs: the parent's, then this registry's (same name: ours)."""
        merged = dict(self.parent._all() if self.parent is not None else {})
        merged.update(self._checks)
        return list(merged.values())

    def _all(self) -> dict[str, Check]:
        return {c.name: c for c in self.checks}

    # -- running -----------------------------------------------------------------------
    def run(self, *, critical_only: bool = False) -> HealthReport:
        """Run the checks (concurrently, each within its timeout) from synchronous code."""
        started = perf_counter()
        results: list[CheckResult] = []
        for check, answer in self._start(critical_only, None):
            if isinstance(answer, CheckResult):
                results.append(answer)
                continue
            try:
                results.append(check.wait(answer))
            except Exception as exc:
                results.append(self._fault(check, exc))
        return self._finish(results, started)

    async def run_async(self, *, critical_only: bool = False) -> HealthReport:
        """``run()`` for async code: async checks run on this loop, sync ones on threads."""
        started = perf_counter()
        started_checks = self._start(critical_only, asyncio.get_running_loop())

        async def one(check: Check, answer: Any) -> CheckResult:
            if isinstance(answer, CheckResult):
                return answer
            try:
                return await check.wait_async(answer)
            except Exception as exc:
                return self._fault(check, exc)

        results = await asyncio.gather(*(one(c, a) for c, a in started_checks))
        return self._finish(results, started)

    def _start(
        self, critical_only: bool, loop: asyncio.AbstractEventLoop | None
    ) -> list[tuple[Check, Any]]:
        out: list[tuple[Check, Any]] = []
        for check in self.checks:
            if critical_only and not check.critical:
                continue
            try:
                out.append((check, check.start(loop)))
            except Exception as exc:
                out.append((check, self._fault(check, exc)))
        return out

    def _fault(self, check: Check, exc: Exception) -> CheckResult:
        faults.report("health.run", exc, self.registry)
        return check.failed(f"internal error in watchkeeper's health runner: {describe(exc)}")

    def _finish(self, results: Iterable[CheckResult], started: float) -> HealthReport:
        report = HealthReport.of(results, perf_counter() - started)
        try:
            self._record(report)
        except Exception as exc:
            faults.report("health.metrics", exc, self.registry)
        return report

    def _record(self, report: HealthReport) -> None:
        metrics = self._metrics
        if metrics is None:
            metrics = self._metrics = _Metrics(self.registry)
        for r in report.results:
            metrics.status.labels(r.name, "true" if r.critical else "false").set(1 if r.ok else 0)
            metrics.duration.labels(r.name).set(r.latency)
            if r.last_success is not None:
                metrics.last_success.labels(r.name).set(r.last_success)


class _Metrics:
    def __init__(self, registry: Registry) -> None:
        self.status = registry.gauge(
            "watchkeeper_health_check_status",
            "1 when the health check passed at its latest run, else 0.",
            ["check", "critical"],
            # Each worker probes on its own: one series per live worker (label pid).
            multiprocess_mode="liveall",
        )
        self.duration = registry.gauge(
            "watchkeeper_health_check_duration_seconds",
            "How long the latest run of the health check took (its timeout when it timed out).",
            ["check"],
            multiprocess_mode="liveall",
        )
        self.last_success = registry.gauge(
            "watchkeeper_health_check_last_success_timestamp_seconds",
            "Unix time of the health check's latest success.",
            ["check"],
            multiprocess_mode="livemax",
        )


DEFAULT = HealthRegistry()
"""Process-wide checks (``watchkeeper.health.check``): every instrumented app runs them."""


def add_check(
    fn: Check | Callable[[], Any],
    *,
    name: str | None = None,
    critical: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    cache: float = DEFAULT_CACHE,
) -> Check:
    """Register a process-wide check (see ``HealthRegistry.add_check``)."""
    return DEFAULT.add_check(fn, name=name, critical=critical, timeout=timeout, cache=cache)


check = DEFAULT.check
"""Decorator registering a process-wide check: ``@watchkeeper.health.check("db")``."""
