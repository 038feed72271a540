"""Request hooks: per-request work that lives inside the request's context.

The HTTP middlewares measure every request; hooks add what needs the request's
own context around the app: a request id bound for every log line, a server span
made current. (Error tracking needs no per-request state, so it is not a hook: the
middlewares call it only when something raised.) A hook is three plain
callables (the structlog habit: extension points are functions, not frameworks):

- ``begin(request) -> state`` runs before the app, in the request's context (set
  contextvars here; they are visible to the app, its threads started with
  ``copy_context`` and its background tasks);
- ``response_headers(state)`` adds headers to the response head;
- ``end(state, outcome)`` runs after the app returned or raised (background tasks
  included), hooks in reverse order of ``begin``, so the last to begin ends first.

Hooks cost nothing when none are installed: the middleware checks one attribute.
Every call is guarded: a faulty hook is reported and skipped, the request goes on.

A hook that is often a no-op for a request (the server-span hook for a request
its sampler drops) may also define ``skip_asgi(scope) -> contextvars.Token | None``:
the ASGI middleware, when that hook is the only one, calls it first; a Token means
"nothing else to do for this request but reset this context variable at its end"
(no request object, no ``begin``/``end``), None means "take the full path".
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping, Sequence
from contextvars import Token
from typing import Any, Protocol

from watchkeeper.instrument import faults
from watchkeeper.instrument.registry import Registry

__all__ = [
    "ASGISkip",
    "ASGIRequestInfo",
    "RequestEnd",
    "RequestHook",
    "RequestInfo",
    "Started",
    "WSGIRequestInfo",
    "asgi_skip_of",
    "begin_hooks",
    "end_hooks",
]


class RequestInfo:
    """What a hook may read about the request, the same for ASGI and WSGI."""

    __slots__ = ("method", "path", "raw")

    def __init__(self, method: str, path: str, raw: MutableMapping[str, Any]) -> None:
        self.method = method
        self.path = path
        # The ASGI scope or WSGI environ, for framework-aware hooks; treat as read-only.
        self.raw = raw

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (lowercase), or None."""
        raise NotImplementedError

    @property
    def scheme(self) -> str:
        raise NotImplementedError

    @property
    def query_string(self) -> str:
        raise NotImplementedError

    @property
    def http_version(self) -> str:
        raise NotImplementedError

    @property
    def client(self) -> tuple[str, int] | None:
        raise NotImplementedError

    @property
    def server(self) -> tuple[str, int] | None:
        raise NotImplementedError


class ASGIRequestInfo(RequestInfo):
    __slots__ = ()

    def header(self, name: str) -> str | None:
        key = name.encode("latin-1")
        for k, v in self.raw.get("headers") or ():
            if k == key:
                return bytes(v).decode("latin-1")
        return None

    @property
    def scheme(self) -> str:
        return str(self.raw.get("scheme") or "http")

    @property
    def query_string(self) -> str:
        return bytes(self.raw.get("query_string") or b"").decode("latin-1")

    @property
    def http_version(self) -> str:
        return str(self.raw.get("http_version") or "1.1")

    @property
    def client(self) -> tuple[str, int] | None:
        client = self.raw.get("client")
        return (str(client[0]), int(client[1])) if client else None

    @property
    def server(self) -> tuple[str, int] | None:
        server = self.raw.get("server")
        return (str(server[0]), int(server[1] or 0)) if server else None


class WSGIRequestInfo(RequestInfo):
    __slots__ = ()

    def header(self, name: str) -> str | None:
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        value = self.raw.get(key)
        return None if value is None else str(value)

    @property
    def scheme(self) -> str:
        return str(self.raw.get("wsgi.url_scheme") or "http")

    @property
    def query_string(self) -> str:
        return str(self.raw.get("QUERY_STRING") or "")

    @property
    def http_version(self) -> str:
        protocol = str(self.raw.get("SERVER_PROTOCOL") or "HTTP/1.1")
        return protocol.partition("/")[2] or "1.1"

    @property
    def client(self) -> tuple[str, int] | None:
        host = self.raw.get("REMOTE_ADDR")
        if not host:
            return None
        port = str(self.raw.get("REMOTE_PORT") or "0")
        return str(host), int(port) if port.isdigit() else 0

    @property
    def server(self) -> tuple[str, int] | None:
        host = self.raw.get("SERVER_NAME")
        if not host:
            return None
        port = str(self.raw.get("SERVER_PORT") or "0")
        return str(host), int(port) if port.isdigit() else 0


class RequestEnd:
    """How the request ended, as the metrics recorded it (read-only by convention;
    a plain slotted class because it is built once per request: a frozen dataclass
    costs several times more to construct)."""

    __slots__ = ("duration_s", "error", "request_bytes", "response_bytes", "route", "status")

    def __init__(
        self,
        route: str,
        status: int,
        error: BaseException | None,
        duration_s: float,
        request_bytes: int,
        response_bytes: int,
    ) -> None:
        self.route = route
        # 499 for a client that went away, 500 for an exception before a response
        self.status = status
        self.error = error  # the exception the app raised, if it did
        self.duration_s = duration_s  # request start to last response byte (or the error)
        self.request_bytes = request_bytes
        self.response_bytes = response_bytes

    def __repr__(self) -> str:
        return (
            f"RequestEnd(route={self.route!r}, status={self.status}, error={self.error!r}, "
            f"duration_s={self.duration_s:.6f})"
        )


class RequestHook(Protocol):
    # optional: skip_asgi(scope) -> contextvars.Token | None (see the module docstring)
    def begin(self, request: RequestInfo) -> Any: ...

    def response_headers(self, state: Any) -> Sequence[tuple[str, str]]: ...

    def end(self, state: Any, outcome: RequestEnd) -> None: ...


class Started:
    """The hooks that began for one request, their states and the headers they add."""

    __slots__ = ("encoded", "headers", "hooks", "last_byte_at")

    def __init__(self) -> None:
        self.hooks: list[tuple[RequestHook, Any]] = []
        self.headers: list[tuple[str, str]] = []
        self.encoded: list[tuple[bytes, bytes]] = []  # the headers as ASGI wants them
        self.last_byte_at = 0.0


# A hook's skip_asgi: the ASGI scope -> a Token to reset at the request's end, or None.
ASGISkip = Callable[[MutableMapping[str, Any]], "Token[Any] | None"]


def asgi_skip_of(hooks: Sequence[RequestHook]) -> ASGISkip | None:
    """The fast path of the only hook, if it has one (see the module docstring)."""
    if len(hooks) != 1:
        return None
    skip = getattr(hooks[0], "skip_asgi", None)
    return skip if callable(skip) else None


def begin_hooks(hooks: Sequence[RequestHook], request: RequestInfo, registry: Registry) -> Started:
    started = Started()
    for hook in hooks:
        try:
            state = hook.begin(request)
            started.hooks.append((hook, state))
            started.headers.extend(hook.response_headers(state))
        except Exception as exc:
            faults.report("hooks.begin", exc, registry)
    return started


def end_hooks(started: Started, outcome: RequestEnd, registry: Registry) -> None:
    for hook, state in reversed(started.hooks):
        try:
            hook.end(state, outcome)
        except Exception as exc:
            faults.report("hooks.end", exc, registry)
