"""Log context: fields that ride along on every line, through contextvars.

Two layers, read on every log line:

- the **request** layer: one mutable holder per HTTP request, set by the request
  hook before the app runs. ``bind()`` during a request adds to this holder, so a
  field bound anywhere in the request (a handler, a threadpool function, a thread
  started with ``contextvars.copy_context().run``) shows on every later line of that
  request, the access line and background tasks included: they all see the same
  holder because contextvars copy the *reference*.
- the **local** layer: fields bound outside any request (a worker, a script) and
  the scoped ``with context(...)`` fields; plain copy-on-write contextvars
  semantics, so a task or thread started later inherits them and changes there do
  not leak back.

A holder's dict is replaced, never mutated, so a formatter in another thread
always reads a consistent snapshot without a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Any

__all__ = [
    "RequestContext",
    "bind",
    "clear",
    "context",
    "get_context",
    "request_id",
    "unbind",
]


class RequestContext:
    """The fields of one request (``request_id`` first)."""

    __slots__ = ("fields", "rendered", "request_id")

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        self.fields: Mapping[str, Any] = {"request_id": request_id}
        # (formatter's field builder, the fields it rendered, the result): a request's
        # lines share their context, so it is sanitised once, not per line.
        self.rendered: tuple[object, Mapping[str, Any], dict[str, Any]] | None = None


_EMPTY: Mapping[str, Any] = {}
_request: ContextVar[RequestContext | None] = ContextVar("watchkeeper_request", default=None)
_local: ContextVar[Mapping[str, Any]] = ContextVar("watchkeeper_log_fields", default=_EMPTY)
_bind_lock = threading.Lock()  # two threads of one request binding at once lose nothing


def begin_request(request_id: str) -> tuple[RequestContext, Token[RequestContext | None]]:
    """Start a request's context (the request hook calls this); ``end_request`` undoes it."""
    holder = RequestContext(request_id)
    return holder, _request.set(holder)


def end_request(token: Token[RequestContext | None]) -> None:
    try:
        _request.reset(token)
    except ValueError:
        # Ended from another context (a server that closes WSGI bodies elsewhere):
        # that context's request is not ours to clear; the next begin replaces it.
        pass


def bind(**fields: Any) -> None:
    """Add ``fields`` to every following log line: for the rest of the request when
    called during one, else for the current context (and tasks/threads it starts)."""
    holder = _request.get()
    if holder is not None:
        with _bind_lock:
            holder.fields = {**holder.fields, **fields}
    else:
        _local.set({**_local.get(), **fields})


def unbind(*keys: str) -> None:
    """Remove ``keys`` bound with ``bind()`` (missing keys are ignored)."""
    holder = _request.get()
    if holder is not None:
        with _bind_lock:
            holder.fields = {k: v for k, v in holder.fields.items() if k not in keys}
    local = _local.get()
    if any(k in local for k in keys):
        _local.set({k: v for k, v in local.items() if k not in keys})


def clear() -> None:
    """Forget every bound field (a request keeps its ``request_id``): call it when a
    worker starts its next job, so one job's fields never show on the next."""
    holder = _request.get()
    if holder is not None:
        with _bind_lock:
            holder.fields = {"request_id": holder.request_id}
    _local.set(_EMPTY)


@contextmanager
def context(**fields: Any) -> Iterator[None]:
    """``with context(job="nightly"): ...``: the fields only inside the block."""
    token = _local.set({**_local.get(), **fields})
    try:
        yield
    finally:
        try:
            _local.reset(token)
        except ValueError:  # exited in another context (e.g. an async generator's finaliser)
            pass


def get_context() -> dict[str, Any]:
    """A copy of every field the next log line would carry from the context."""
    holder = _request.get()
    merged = dict(holder.fields) if holder is not None else {}
    merged.update(_local.get())
    return merged


def request_id() -> str | None:
    """The current request's id, or None outside a request."""
    holder = _request.get()
    return holder.request_id if holder is not None else None


# The formatters' fast path: two ContextVar reads, no copies.
current_request = _request.get
current_local = _local.get
