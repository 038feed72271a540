"""The check model: one named probe of a dependency, its timeout, cache and in-flight run.

A check is any sync or async callable. It passes when it returns ``None`` or a
truthy value and fails when it returns a falsy value (``False``) or raises; the
exception becomes the error message (secrets redacted).

Each ``Check`` owns its state so that a probe storm costs the dependency at most
one call per ``cache`` interval, however many probes and apps ask:

- a result younger than ``cache`` seconds is answered from the cache;
- a run already in flight is joined, not repeated;
- every run has a deadline: a waiter that reaches it settles the run as a timeout
  (and cancels it if it is async), so a hanging dependency costs ``timeout``;
- a sync run that hangs past its deadline keeps its thread (threads cannot be
  killed); until it returns, the check fails at once instead of starting another,
  so hung threads never pile up.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from time import perf_counter
from typing import Any

from watchkeeper.errors import ConfigurationError
from watchkeeper.health import _executor
from watchkeeper.health._redact import redact

__all__ = [
    "DEFAULT_CACHE",
    "DEFAULT_TIMEOUT",
    "Check",
    "CheckFunc",
    "CheckResult",
    "describe",
    "is_async",
]

DEFAULT_TIMEOUT = 2.0
"""Seconds a check may take; below Kubernetes' usual probe timeouts plus margin."""
DEFAULT_CACHE = 1.0
"""Seconds a result is reused: absorbs probe storms, stale for at most a second."""
_MAX_ERROR = 300
_TIMED_OUT = object()

CheckFunc = Callable[[], Any]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check's answer. Times are Unix seconds; ``latency`` is of the run that produced it."""

    name: str
    ok: bool
    critical: bool
    latency: float
    error: str | None
    last_success: float | None
    checked_at: float
    cached: bool = False


class _Run:
    """One execution of a check that any number of probes may wait on."""

    __slots__ = ("cancel", "deadline", "future", "started")

    def __init__(self, timeout: float) -> None:
        self.future: Future[CheckResult] = Future()
        self.started = perf_counter()
        self.deadline = time.monotonic() + timeout
        self.cancel: Callable[[], object] | None = None


def is_async(fn: Callable[..., Any]) -> bool:
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(fn, "__call__", None)  # noqa: B004 - an instance with async __call__
    return call is not None and inspect.iscoroutinefunction(call)


def describe(exc: BaseException) -> str:
    """An exception as an error message: class and text, redacted and bounded."""
    text = str(exc).strip()
    message = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    message = redact(message)
    return message if len(message) <= _MAX_ERROR else message[: _MAX_ERROR - 1] + "…"


def _verdict(value: object) -> str | None:
    if value is None or value:
        return None
    return f"check returned {value!r}"


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


class Check:
    """``Check(fn, name="db", critical=True, timeout=2.0, cache=1.0)``.

    ``critical`` checks decide readiness (``/ready``) and make ``/health/detailed``
    unhealthy; a failing non-critical check only degrades it. ``cache=0`` runs
    the check on every probe (concurrent probes still share one run).
    """

    def __init__(
        self,
        fn: CheckFunc,
        *,
        name: str | None = None,
        critical: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
        cache: float = DEFAULT_CACHE,
    ) -> None:
        if not callable(fn):
            raise ConfigurationError(
                f"a health check must be a callable, got {type(fn).__name__}: pass a function "
                "that returns None/True when healthy and raises or returns False when not"
            )
        label = name if name is not None else getattr(fn, "__name__", "")
        if not label or label == "<lambda>":
            raise ConfigurationError(
                f"health check {fn!r} needs a name: pass name='...' (it labels the check "
                "in /health/detailed and in watchkeeper_health_check_status)"
            )
        if not timeout > 0:
            raise ConfigurationError(
                f"health check {label!r}: timeout must be > 0 seconds, got {timeout!r}"
            )
        if not cache >= 0:
            raise ConfigurationError(
                f"health check {label!r}: cache must be >= 0 seconds, got {cache!r}"
            )
        self.fn = fn
        self.name = redact(label)
        self.critical = critical
        self.timeout = float(timeout)
        self.cache = float(cache)
        self.is_async = is_async(fn)
        self._lock = threading.Lock()
        self._cached: CheckResult | None = None
        self._cached_at = 0.0
        self._run: _Run | None = None
        self._busy_since: float | None = None  # monotonic start of an unreturned execution
        self._last_success: float | None = None

    def __repr__(self) -> str:
        kind = "critical" if self.critical else "non-critical"
        return f"<Check {self.name!r} {kind} timeout={self.timeout:g}s cache={self.cache:g}s>"

    # -- starting and joining runs ---------------------------------------------------
    def start(self, loop: asyncio.AbstractEventLoop | None) -> CheckResult | _Run:
        """A cached or immediate result, or the run to wait on (started here if needed).

        ``loop`` is the caller's running loop (ASGI) where async checks run, or
        ``None`` (WSGI) to use the background loop.
        """
        now = time.monotonic()
        with self._lock:
            cached = self._cached
            if cached is not None and now - self._cached_at < self.cache:
                return _replace_cached(cached)
            run = self._run
            if run is not None and not run.future.done():
                return run
            if self._busy_since is not None:
                return self._result(
                    False,
                    f"still running: the run started {now - self._busy_since:.1f} s ago did "
                    f"not return within its {self.timeout:g} s timeout",
                    0.0,
                )
            run = self._run = _Run(self.timeout)
            self._busy_since = now
        try:
            if self.is_async:
                self._launch_async(run, loop)
            else:
                _executor.submit(lambda: self._call_sync(run, loop))
        except Exception as exc:  # e.g. no thread could be started
            self._returned()
            self._settle(run, f"could not start the check: {describe(exc)}", 0.0)
        return run

    def wait(self, run: _Run) -> CheckResult:
        """Block until ``run`` settles or its deadline passes (then it is a timeout)."""
        try:
            return run.future.result(timeout=max(0.0, run.deadline - time.monotonic()))
        except FutureTimeout:
            return self._expire(run)

    async def wait_async(self, run: _Run) -> CheckResult:
        """``wait`` without blocking the loop; the run is never cancelled by our waiting."""
        if not run.future.done():
            waiter = asyncio.wrap_future(run.future)
            # asyncio.wait, not wait_for: wait_for would cancel the shared future.
            await asyncio.wait({waiter}, timeout=max(0.0, run.deadline - time.monotonic()))
            if not waiter.done():
                return self._expire(run)
        return run.future.result()

    # -- executions -------------------------------------------------------------------
    def _call_sync(self, run: _Run, loop: asyncio.AbstractEventLoop | None) -> None:
        start = perf_counter()
        try:
            value = self.fn()
            if inspect.isawaitable(value):
                # A sync callable that returned a coroutine (a lambda around an async
                # client): await it on the caller's loop, where its client lives.
                home = loop if loop is not None else _executor.background_loop()
                coroutine = _awaited(value)
                try:
                    pending = asyncio.run_coroutine_threadsafe(coroutine, home)
                except RuntimeError:  # the caller's loop has closed meanwhile
                    coroutine.close()
                    if inspect.iscoroutine(value):
                        value.close()  # never awaited, on purpose: no warning
                    raise
                try:
                    value = pending.result(timeout=max(0.0, run.deadline - time.monotonic()))
                except FutureTimeout:
                    pending.cancel()
                    value = _TIMED_OUT
            error = self._timeout_message() if value is _TIMED_OUT else _verdict(value)
        except BaseException as exc:  # a TimeoutError of the check's own is its own message
            error = describe(exc)
        self._returned()
        self._settle(run, error, perf_counter() - start)

    def _launch_async(self, run: _Run, loop: asyncio.AbstractEventLoop | None) -> None:
        async def execute() -> None:
            start = perf_counter()
            error: str | None
            try:
                value = self.fn()
                if inspect.isawaitable(value):
                    value = await value
                error = _verdict(value)
            except asyncio.CancelledError:
                error = self._timeout_message()
            except Exception as exc:
                error = describe(exc)
            finally:
                self._returned()
            self._settle(run, error, perf_counter() - start)

        if loop is not None:
            task = loop.create_task(execute())
            run.cancel = lambda: loop.call_soon_threadsafe(task.cancel)
        else:
            pending = asyncio.run_coroutine_threadsafe(execute(), _executor.background_loop())
            run.cancel = pending.cancel

    # -- settling -----------------------------------------------------------------------
    def _timeout_message(self) -> str:
        return f"TimeoutError: no answer within {self.timeout:g} s"

    def _returned(self) -> None:
        with self._lock:
            self._busy_since = None

    def _expire(self, run: _Run) -> CheckResult:
        result = self._settle(run, self._timeout_message(), self.timeout)
        cancel = run.cancel
        if cancel is not None:
            try:
                cancel()
            except RuntimeError:  # the run's loop has closed: nothing left to cancel
                pass
        return result

    def _settle(self, run: _Run, error: str | None, latency: float) -> CheckResult:
        """Give ``run`` its result, once: the first of the execution and a timeout wins."""
        with self._lock:
            if run.future.done():
                return run.future.result()
            result = self._result(error is None, error, latency)
            self._cached, self._cached_at = result, time.monotonic()
            if self._run is run:
                self._run = None
            run.future.set_result(result)
            return result

    def _result(self, ok: bool, error: str | None, latency: float) -> CheckResult:
        # Called with the lock held.
        now = time.time()
        if ok:
            self._last_success = now
        return CheckResult(
            name=self.name,
            ok=ok,
            critical=self.critical,
            latency=latency,
            error=error,
            last_success=self._last_success,
            checked_at=now,
        )

    def failed(self, error: str) -> CheckResult:
        """A failing result without running the check (for faults of the machinery)."""
        with self._lock:
            return self._result(False, error, 0.0)


def _replace_cached(result: CheckResult) -> CheckResult:
    return CheckResult(
        result.name,
        result.ok,
        result.critical,
        result.latency,
        result.error,
        result.last_success,
        result.checked_at,
        cached=True,
    )
