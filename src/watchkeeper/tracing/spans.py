"""Custom spans: ``@traced`` and ``with span("name", **attrs)``.

    @watchkeeper.traced
    def calculate_signature(payload): ...

    with watchkeeper.span("data_validation", rows=len(rows)):
        validate(rows)

Both are no-ops costing a few hundred nanoseconds when tracing is not configured
(no OpenTelemetry SDK provider), and inside a request the sampler did not pick.
They never raise into the app: a fault in OpenTelemetry is reported and the code
runs unspanned. An exception the code raises is recorded on the span (status
ERROR) and propagates unchanged.
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar, cast, overload

from watchkeeper.instrument import faults
from watchkeeper.tracing import setup

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

__all__ = ["SpanLike", "span", "traced"]

P = ParamSpec("P")
R = TypeVar("R")
_PRIMITIVES = (str, bool, int, float)


class SpanLike(Protocol):
    """What ``with span(...) as s`` gives: an OpenTelemetry span or a no-op."""

    def set_attribute(self, key: str, value: Any) -> None: ...

    def add_event(self, name: str, attributes: Any = None) -> None: ...

    def is_recording(self) -> bool: ...


class _NoopSpan:
    __slots__ = ()

    def set_attribute(self, key: str, value: Any) -> None:
        pass

    def add_event(self, name: str, attributes: Any = None) -> None:
        pass

    def is_recording(self) -> bool:
        return False


class _NoopContext:
    __slots__ = ()

    def __enter__(self) -> SpanLike:
        return _NOOP_SPAN

    def __exit__(self, *exc: object) -> None:
        return None


_NOOP_SPAN = _NoopSpan()
_NOOP = _NoopContext()


class _Found:
    tracer: Tracer | None = None


_found = _Found()


def _tracer() -> Tracer | None:
    """watchkeeper's tracer when tracing is on: configure() ran or an SDK provider is set."""
    current = setup.current()
    if current is not None:
        return current.tracer
    if _found.tracer is not None:
        return _found.tracer
    if "opentelemetry.sdk.trace" not in sys.modules:  # no SDK loaded: nothing can export
        return None
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        _found.tracer = provider.get_tracer(setup.INSTRUMENTATION_NAME)
    return _found.tracer


def _clean(attributes: dict[str, Any]) -> dict[str, Any]:
    # OpenTelemetry drops (and warns about) values that are not primitives.
    return {
        k: v if isinstance(v, _PRIMITIVES) or v is None else str(v) for k, v in attributes.items()
    }


class _SpanContext:
    __slots__ = ("_attributes", "_inner", "_name", "_tracer")

    def __init__(self, tracer: Tracer, name: str, attributes: dict[str, Any]) -> None:
        self._tracer = tracer
        self._name = name
        self._attributes = attributes
        self._inner: Any = None

    def __enter__(self) -> SpanLike:
        try:
            self._inner = self._tracer.start_as_current_span(
                self._name, attributes=_clean(self._attributes) if self._attributes else None
            )
            return cast(SpanLike, self._inner.__enter__())
        except Exception as exc:
            self._inner = None
            faults.report("tracing.span", exc)
            return _NOOP_SPAN

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        inner, self._inner = self._inner, None
        if inner is None:
            return
        try:
            # OpenTelemetry records the exception and sets ERROR; it never swallows it.
            inner.__exit__(kind, exc, tb)
        except Exception as fault:
            if fault is exc:  # its context manager re-raising the app's own exception
                raise
            faults.report("tracing.span", fault)


def span(name: str, **attributes: Any) -> _SpanContext | _NoopContext:
    """A context manager timing the block as a span child of the current one."""
    if setup.REQUEST_DECISION.get() is False:  # inside a request the sampler dropped
        return _NOOP
    tracer = _tracer()
    if tracer is None:
        return _NOOP
    return _SpanContext(tracer, name, attributes)


@overload
def traced(func: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def traced(
    name: str | None = None, /, **attributes: Any
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def traced(func: Any = None, /, **attributes: Any) -> Any:
    """Decorate a function or coroutine function so each call is a span.

    ``@traced``, ``@traced("name")`` or ``@traced("name", key=value)``; the name
    defaults to the function's ``__qualname__``.
    """
    if callable(func):
        return _decorate(func, func.__qualname__, attributes)
    name = func

    def decorator(f: Callable[P, R]) -> Callable[P, R]:
        return _decorate(f, name or f.__qualname__, attributes)

    return decorator


def _decorate(func: Callable[P, R], name: str, attributes: dict[str, Any]) -> Callable[P, R]:
    if inspect.iscoroutinefunction(func):
        coro = cast(Callable[P, Awaitable[Any]], func)

        @functools.wraps(func)
        async def run_async(*args: P.args, **kwargs: P.kwargs) -> Any:
            with span(name, **attributes):
                return await coro(*args, **kwargs)

        return cast(Callable[P, R], run_async)

    @functools.wraps(func)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with span(name, **attributes):
            return func(*args, **kwargs)

    return run
