"""``@watchkeeper.measured``: calls, errors, duration and in-flight count of a function.

Works on sync and async functions; the function's own exceptions pass through
unchanged, after error tracking (errors.py) counted and logged them. With
``slow=seconds`` a call that takes longer logs a warning with its duration (the
guides' slow-query log), at most once per second per function.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from time import monotonic, perf_counter
from typing import Any, ParamSpec, TypeVar, overload

from watchkeeper.instrument import faults
from watchkeeper.instrument._semconv import DURATION_BUCKETS
from watchkeeper.instrument.errors import is_app_error, tracker
from watchkeeper.instrument.metrics import UPDATE_LOCK
from watchkeeper.instrument.registry import REGISTRY, Registry

__all__ = ["measured"]

logger = logging.getLogger("watchkeeper")
P = ParamSpec("P")
R = TypeVar("R")
_SLOW_LOG_EVERY_S = 1.0


class _Measure:
    """The children of one measured function, resolved once at decoration time."""

    def __init__(self, fn: Callable[..., Any], name: str | None, slow: float | None, reg: Registry):
        self.function = name or fn.__qualname__
        self.module = fn.__module__
        self.slow = slow
        self.last_slow_log = 0.0
        labels = ["function", "module"]
        calls = reg.counter(
            "function_calls", "Calls of @measured functions by result (ok or error).",
            [*labels, "result"],
        )  # fmt: skip
        duration = reg.histogram(
            "function_duration_seconds", "Duration of @measured function calls.", labels,
            buckets=DURATION_BUCKETS,
        )  # fmt: skip
        in_flight = reg.gauge(
            "function_in_flight", "Calls of @measured functions currently running.", labels
        )
        self.ok = calls.labels(self.function, self.module, "ok")
        self.error = calls.labels(self.function, self.module, "error")
        self.duration = duration.labels(self.function, self.module)
        self.in_flight = in_flight.labels(self.function, self.module)
        self.registry = reg
        self.errors = tracker(reg)

    def start(self) -> None:
        try:
            with UPDATE_LOCK:
                self.in_flight.value += 1
        except Exception as exc:  # pragma: no cover - defensive
            faults.report("measured", exc, self.registry)

    def failed(self, exc: BaseException) -> None:
        if is_app_error(exc):
            self.errors.track(exc, function=self.function)

    def end(self, started: float, failed: bool) -> None:
        try:
            elapsed = perf_counter() - started
            with UPDATE_LOCK:
                self.in_flight.value -= 1
                (self.error if failed else self.ok).value += 1
            self.duration.observe(elapsed)
            if self.slow is not None and elapsed >= self.slow:
                now = monotonic()
                if now - self.last_slow_log >= _SLOW_LOG_EVERY_S:
                    self.last_slow_log = now
                    logger.warning(
                        "slow call: %s took %.3f s (threshold %.3f s)",
                        self.function, elapsed, self.slow,
                        extra={"function": self.function, "code_module": self.module,
                               "duration_s": round(elapsed, 6), "slow_threshold_s": self.slow},
                    )  # fmt: skip
        except Exception as exc:
            faults.report("measured", exc, self.registry)


@overload
def measured(fn: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def measured(
    *, name: str | None = None, slow: float | None = None, registry: Registry | None = None
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def measured(
    fn: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    slow: float | None = None,
    registry: Registry | None = None,
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Measure a function: ``@measured`` or ``@measured(name="checkout", slow=0.5)``."""

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        m = _Measure(func, name, slow, registry or REGISTRY)
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                m.start()
                started = perf_counter()
                failed = True
                try:
                    result = await func(*args, **kwargs)
                    failed = False
                    return result
                except BaseException as exc:
                    m.failed(exc)
                    raise
                finally:
                    m.end(started, failed)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            m.start()
            started = perf_counter()
            failed = True
            try:
                result = func(*args, **kwargs)
                failed = False
                return result
            except BaseException as exc:
                m.failed(exc)
                raise
            finally:
                m.end(started, failed)

        return wrapper

    if fn is not None:
        return decorate(fn)
    return decorate
