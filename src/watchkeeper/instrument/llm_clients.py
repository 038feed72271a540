"""Instrument the official openai and anthropic Python clients, sync and async.

``wrap_client(client, metrics)`` replaces the ``create`` methods of the client's
completion-style resources *on that client instance* (never on the classes, so
other clients are untouched) with wrappers that time the call and record the
model that answered, the token usage from the response and errors by type
(``RateLimitError``, ``APITimeoutError``, ...). Streams (``stream=True``) are
recorded when they end: OpenAI reports usage in a stream only when asked with
``stream_options={"include_usage": True}``; Anthropic always does.

Covered: openai ``chat.completions``, ``completions``, ``responses``,
``embeddings``; anthropic ``messages``. Neither package is imported here: the
client is recognised by its module name.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from types import TracebackType
from typing import Any

from watchkeeper.errors import ConfigurationError
from watchkeeper.instrument import faults
from watchkeeper.instrument.llm import LLMCall, LLMMetrics

__all__ = ["wrap_client"]

_RESOURCES = {
    "openai": (("chat", "completions"), ("completions",), ("responses",), ("embeddings",)),
    "anthropic": (("messages",),),
}
_MARK = "__watchkeeper_llm__"


def _provider(client: Any) -> str:
    module = type(client).__module__.split(".")[0]
    if module not in _RESOURCES:
        raise ConfigurationError(
            f"watchkeeper.llm.wrap() takes an openai or anthropic client (OpenAI, AsyncOpenAI, "
            f"Anthropic, AsyncAnthropic), got {type(client).__module__}.{type(client).__name__}; "
            "for other clients use watchkeeper.llm.request() or record()"
        )
    return module


def wrap_client(client: Any, metrics: LLMMetrics, api_key: str | None = None) -> Any:
    """Instrument ``client`` in place and return it; wrapping twice changes nothing."""
    provider = _provider(client)
    if getattr(client, _MARK, False):
        return client
    # AsyncOpenAI's create() is a plain function returning a coroutine (a decorator
    # hides the ``async def``), so ask the client, not inspect.
    is_async = type(client).__name__.startswith("Async")
    for path in _RESOURCES[provider]:
        resource: Any = client
        try:
            for name in path:
                resource = getattr(resource, name)
            original = resource.create
        except AttributeError:  # an older client without this resource
            continue
        resource.create = _wrap_create(original, metrics, api_key, is_async)
    setattr(client, _MARK, True)
    return client


def _wrap_create(
    original: Callable[..., Any], metrics: LLMMetrics, api_key: str | None, is_async: bool
) -> Any:
    if is_async or inspect.iscoroutinefunction(original):

        @functools.wraps(original)
        async def acreate(*args: Any, **kwargs: Any) -> Any:
            call = _begin(metrics, kwargs, api_key)
            try:
                result = await original(*args, **kwargs)
            except BaseException as exc:
                call.finish(exc)
                raise
            if kwargs.get("stream") is True:
                return _AsyncStream(result, call)
            _finish_with(call, result)
            return result

        return acreate

    @functools.wraps(original)
    def create(*args: Any, **kwargs: Any) -> Any:
        call = _begin(metrics, kwargs, api_key)
        try:
            result = original(*args, **kwargs)
        except BaseException as exc:
            call.finish(exc)
            raise
        if kwargs.get("stream") is True:
            return _Stream(result, call)
        _finish_with(call, result)
        return result

    return create


def _begin(metrics: LLMMetrics, kwargs: dict[str, Any], api_key: str | None) -> LLMCall:
    call = LLMCall(metrics, str(kwargs.get("model") or "unknown"), api_key)
    call.start()
    return call


def _finish_with(call: LLMCall, response: Any) -> None:
    try:
        _observe(call, response)
    except Exception as exc:  # an unexpected response shape must not fail the app's call
        faults.report("llm.wrap", exc, call.metrics.registry)
    call.finish()


def _usage_of(usage: Any) -> tuple[int, int]:
    """(input, output) tokens of an OpenAI or Anthropic usage object."""
    if usage is None:
        return 0, 0
    inp = getattr(usage, "input_tokens", None)
    if inp is None:
        inp = getattr(usage, "prompt_tokens", None)
    out = getattr(usage, "output_tokens", None)
    if out is None:
        out = getattr(usage, "completion_tokens", None)
    return int(inp or 0), int(out or 0)


def _observe(call: LLMCall, item: Any) -> None:
    """Take the model and usage from a response, a stream chunk or a stream event."""
    kind = getattr(item, "type", None)
    if kind == "message_start":  # anthropic stream: model and input tokens come first
        item = item.message
    elif kind in ("response.completed", "response.incomplete", "response.failed"):
        item = item.response  # openai responses stream: the final response
    model = getattr(item, "model", None)
    if isinstance(model, str) and model:
        call.model = model
    inp, out = _usage_of(getattr(item, "usage", None))
    if kind == "message_delta":  # anthropic: the running output count, not an increment
        call.output_tokens = max(call.output_tokens, out)
        return
    call.usage(inp, out)


class _Stream:
    """A sync stream passed through chunk by chunk; recorded once when it ends."""

    def __init__(self, stream: Any, call: LLMCall) -> None:
        self._stream = stream
        self._call = call
        self._done = False
        self._iter: Iterator[Any] | None = None

    def _end(self, exc: BaseException | None) -> None:
        if not self._done:
            self._done = True
            self._call.finish(exc)

    def _watch(self) -> Iterator[Any]:
        try:
            for item in self._stream:
                try:
                    _observe(self._call, item)
                except Exception as exc:
                    faults.report("llm.wrap", exc, self._call.metrics.registry)
                yield item
        except GeneratorExit:
            self._end(None)
            raise
        except BaseException as exc:
            self._end(exc)
            raise
        self._end(None)

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        if self._iter is None:
            self._iter = self._watch()
        return next(self._iter)

    def close(self) -> None:
        try:
            if self._iter is not None:
                self._iter.close()  # type: ignore[attr-defined]
            self._stream.close()
        finally:
            self._end(None)

    def __enter__(self) -> _Stream:
        return self

    def __exit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _AsyncStream:
    """An async stream passed through event by event; recorded once when it ends."""

    def __init__(self, stream: Any, call: LLMCall) -> None:
        self._stream = stream
        self._call = call
        self._done = False
        self._iter: AsyncIterator[Any] | None = None

    def _end(self, exc: BaseException | None) -> None:
        if not self._done:
            self._done = True
            self._call.finish(exc)

    async def _watch(self) -> AsyncIterator[Any]:
        try:
            async for item in self._stream:
                try:
                    _observe(self._call, item)
                except Exception as exc:
                    faults.report("llm.wrap", exc, self._call.metrics.registry)
                yield item
        except GeneratorExit:
            self._end(None)
            raise
        except BaseException as exc:
            self._end(exc)
            raise
        self._end(None)

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        if self._iter is None:
            self._iter = self._watch()
        return await self._iter.__anext__()

    async def close(self) -> None:
        try:
            if self._iter is not None:
                await self._iter.aclose()  # type: ignore[attr-defined]
            await self._stream.close()
        finally:
            self._end(None)

    async def __aenter__(self) -> _AsyncStream:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
