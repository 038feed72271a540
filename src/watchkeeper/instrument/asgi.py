"""Pure ASGI middleware: golden-signal metrics for every HTTP request, and /metrics.

Pure ASGI (no BaseHTTPMiddleware): it wraps ``receive`` and ``send`` and never
buffers or alters a message. What it records, and when:

- the duration stops when the last body chunk has been sent, so background tasks
  that run after the response are not counted;
- streaming responses (``STREAM_CONTENT_TYPES``) record the time to the response
  head in the request histogram and their full length in the stream histogram;
- an exception before the response started is a 500 with ``error_type`` set to the
  exception's class; an observed client disconnect (``http.disconnect`` before the
  response completed, a failing send, or cancellation) is a 499;
- websocket and lifespan scopes pass through untouched.

Every step of our own is guarded: a fault is reported and the request goes on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from time import perf_counter
from typing import Any

from watchkeeper.instrument import faults, runtime
from watchkeeper.instrument._semconv import KNOWN_METHODS, OTHER_METHOD
from watchkeeper.instrument.config import Instrumentation
from watchkeeper.instrument.errors import is_app_error
from watchkeeper.instrument.hooks import (
    ASGIRequestInfo,
    RequestEnd,
    Started,
    begin_hooks,
    end_hooks,
)
from watchkeeper.instrument.http import WAKE_FOLDER_AT

__all__ = ["ASGIApp", "WatchkeeperMiddleware"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Answer = tuple[int, list[tuple[str, str]], bytes]  # a response watchkeeper makes itself


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers") or ():
        if key == name:
            return bytes(value).decode("latin-1")
    return ""


async def _send_response(
    scope: Scope, send: Send, status: int, headers: list[tuple[str, str]], body: bytes
) -> None:
    """Answer with a response watchkeeper made itself (metrics, health)."""
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body if scope["method"] != "HEAD" else b""})


class WatchkeeperMiddleware:
    """``WatchkeeperMiddleware(app, instrumentation=...)``: add it outermost."""

    def __init__(self, app: ASGIApp, *, instrumentation: Instrumentation) -> None:
        self.app = app
        self.wk = instrumentation
        self.__watchkeeper__ = instrumentation
        self.inflight: dict[str, list[None]] = {}
        self.metrics_path = instrumentation.metrics_path
        # Paths answered by watchkeeper itself, never measured: one lookup on the hot path.
        self.intercepted: dict[str, Callable[[Scope, Receive, Send], Awaitable[None]]] = {}
        if instrumentation.health is not None:
            for health_path in instrumentation.health.paths.all():
                self.intercepted[health_path] = self._serve_health
        if self.metrics_path is not None:
            self.intercepted[self.metrics_path] = self._serve_metrics
        if instrumentation.rum is not None:
            for rum_path in instrumentation.rum.paths():
                self.intercepted[rum_path] = self._serve_rum
        if instrumentation.profile is not None:
            self.intercepted[instrumentation.profile.path] = self._serve_profile
        self.exclude_paths = instrumentation.exclude_paths
        self.hooks = instrumentation.hooks
        self.exemplar_of = instrumentation.exemplar_of
        self.errors = instrumentation.errors
        self._lag_started = False
        self.stream_prefixes = tuple(
            t.encode("latin-1") for t in instrumentation.stream_content_types
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # One coroutine per request: every extra await layer costs ~0.5 µs.
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wk = self.wk
        path = scope.get("path", "")
        if path in self.intercepted:
            await self.intercepted[path](scope, receive, send)
            return
        if path in self.exclude_paths:
            await self.app(scope, receive, send)
            return
        # The hot path, written for the interpreter: closures over a few cells, no
        # per-request objects, one lock round-trip, every feature's cost paid only
        # when that feature is in play (body bytes, disconnects, streams).
        start = perf_counter()
        method = scope.get("method", "GET")
        if method not in KNOWN_METHODS:
            method = OTHER_METHOD
        http = wk.http
        inflight = self.inflight.get(method)
        if inflight is None:
            inflight = self.inflight[method] = http.inflight(method)
        inflight.append(None)
        if wk.loop_lag and not self._lag_started:
            self._start_loop_monitor()
        route_of = wk.route_of
        pending = http.pending
        pending_append = pending.append
        stream_prefixes = self.stream_prefixes
        status = 0
        received = 0
        sent = 0
        disconnected = False
        recorded = False
        completing = False  # the last chunk is on its way: a disconnect now is not early
        stream_start = 0.0
        started: Started | None = None
        if self.hooks:  # request ids, spans: only when installed
            started = self._begin_hooks(scope, method, path)

        async def wrapped_receive() -> Message:
            nonlocal received, disconnected
            message = await receive()
            mtype = message.get("type")
            if mtype == "http.request":
                received += len(message.get("body") or b"")
            elif mtype == "http.disconnect" and not completing:
                disconnected = True
            return message

        async def wrapped_send(message: Message) -> None:
            nonlocal status, sent, stream_start, disconnected, recorded, completing
            mtype = message.get("type")
            if mtype == "http.response.body":
                sent += len(message.get("body") or b"")
                if not message.get("more_body"):
                    completing = True
                    if started is not None:
                        started.last_byte_at = perf_counter()
                    try:
                        await send(message)
                    except OSError:
                        disconnected = True
                        raise
                    if not recorded:  # the common ending, inlined: no extra call
                        recorded = True
                        try:
                            inflight.pop()
                            if stream_start:
                                http.record_stream(method, route_of(scope), perf_counter() - start)
                            else:  # HTTPMetrics.record, inlined: one tuple appended
                                route = route_of(scope)
                                item = (
                                    method, route, 499 if disconnected else status,
                                    self._handled_error(scope, method, route)
                                    if status >= 500 else "",
                                    perf_counter() - start, received, sent,
                                )  # fmt: skip
                                pending_append(item)
                                exemplar_of = self.exemplar_of
                                if exemplar_of is not None:  # tracing on
                                    # one C call: the request span's labels, falsy if
                                    # unsampled (tracing/exemplars.py)
                                    labels = exemplar_of()
                                    if labels:
                                        http.add_exemplar(item, labels)
                                if len(pending) > WAKE_FOLDER_AT:
                                    http.backlog()
                        except Exception as exc:
                            faults.report("asgi.record", exc, wk.registry)
                    return
            elif mtype == "http.response.start":
                status = message.get("status", 0)
                if started is not None and started.headers:
                    self._add_headers(message, started)
                if stream_prefixes:
                    try:
                        for key, value in message.get("headers") or ():
                            if key == b"content-type":
                                if value.lower().startswith(stream_prefixes):
                                    stream_start = self._record_stream_head(
                                        method, scope, status, start, received
                                    )
                                break
                    except Exception as exc:
                        faults.report("asgi.send", exc, wk.registry)
            try:
                await send(message)
            except OSError:
                disconnected = True
                raise

        try:
            await self.app(scope, wrapped_receive, wrapped_send)
        except BaseException as exc:
            if not recorded:
                recorded = True
                cancelled = isinstance(exc, asyncio.CancelledError)
                self._finish_abnormally(
                    scope, method, inflight, start, status, received, sent, stream_start,
                    disconnected or cancelled, type(exc).__qualname__,
                )  # fmt: skip
            if self.errors is not None and not disconnected:  # raised, even after the response
                self._track(exc, scope, method)
            if started is not None:
                self._end_hooks(started, scope, start, status, exc, received, sent, disconnected)
            raise
        if not recorded:  # the app returned without completing its response
            recorded = True
            self._finish_abnormally(
                scope, method, inflight, start, status, received, sent, stream_start,
                disconnected, "",
            )  # fmt: skip
        if started is not None:
            self._end_hooks(started, scope, start, status, None, received, sent, disconnected)

    def _begin_hooks(self, scope: Scope, method: str, path: str) -> Started:
        started = begin_hooks(self.hooks, ASGIRequestInfo(method, path, scope), self.wk.registry)
        if started.headers:
            started.encoded = [
                (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in started.headers
            ]
        return started

    def _add_headers(self, message: Message, started: Started) -> None:
        """The hooks' response headers (X-Request-ID...); the app's own value wins."""
        try:
            headers = list(message.get("headers") or ())
            present = {bytes(k).lower() for k, _ in headers}
            headers.extend(h for h in started.encoded if h[0] not in present)
            message["headers"] = headers
        except Exception as exc:
            faults.report("hooks.headers", exc, self.wk.registry)

    def _handled_error(self, scope: Scope, method: str, route: str) -> str:
        # A framework that turns exceptions into 500s itself (Django) leaves the
        # exception here through its signal (api.py), so it is not lost.
        error = scope.get("watchkeeper.error")
        if error is None:
            return ""
        if self.errors is not None:
            self.errors.track(error, route=route, method=method)
        return type(error).__qualname__

    def _track(self, exc: BaseException, scope: Scope, method: str) -> None:
        try:
            if is_app_error(exc) and self.errors is not None:
                self.errors.track(exc, route=self.wk.route_of(scope), method=method)
        except Exception as fault:
            faults.report("errors.track", fault, self.wk.registry)

    def _end_hooks(
        self,
        started: Started,
        scope: Scope,
        start: float,
        status: int,
        error: BaseException | None,
        received: int,
        sent: int,
        disconnected: bool,
    ) -> None:
        try:
            end = started.last_byte_at or perf_counter()
            if error is None:
                error = scope.get("watchkeeper.error")
            gone = disconnected or isinstance(error, asyncio.CancelledError)
            code = 499 if gone else (status or 500)
            route = self.wk.route_of(scope)
            outcome = RequestEnd(route, code, error, end - start, received, sent)
        except Exception as exc:
            faults.report("hooks.end", exc, self.wk.registry)
            return
        end_hooks(started, outcome, self.wk.registry)

    def _exemplar(self) -> str | None:
        # Called where the duration is recorded: inside the request, its span current.
        exemplar_of = self.exemplar_of
        if exemplar_of is None:
            return None
        try:
            return exemplar_of() or None  # False in an unsampled request
        except Exception as exc:
            faults.report("asgi.exemplar", exc, self.wk.registry)
            return None

    def _finish_abnormally(
        self,
        scope: Scope,
        method: str,
        inflight: list[None],
        start: float,
        status: int,
        received: int,
        sent: int,
        stream_start: float,
        disconnected: bool,
        error_type: str,
    ) -> None:
        """Record a request that did not end with its last chunk: raised, cancelled,
        or returned early. A method, not a closure: most requests never need it."""
        try:
            end = perf_counter()
            inflight.pop()
            wk = self.wk
            route = wk.route_of(scope)
            if stream_start:
                wk.http.record_stream(method, route, end - start)
                return
            code = 499 if disconnected else (status or 500)
            wk.http.record(
                method, route, code, error_type, end - start, received, sent, self._exemplar()
            )
        except Exception as exc:
            faults.report("asgi.record", exc, self.wk.registry)

    def _start_loop_monitor(self) -> None:
        # Once per middleware: a server runs one event loop for its life.
        self._lag_started = True
        try:
            runtime.ensure_loop_monitor(self.wk.registry)
        except Exception as exc:
            faults.report("asgi.loop_lag", exc, self.wk.registry)

    def _record_stream_head(
        self, method: str, scope: Scope, status: int, start: float, received: int
    ) -> float:
        # The head is the request's answer; the stream is measured apart.
        now = perf_counter()
        route = self.wk.route_of(scope)
        self.wk.http.record(method, route, status, "", now - start, received, 0, self._exemplar())
        return now

    def is_stream(self, message: Message) -> bool:
        # ASGI header names are lowercase bytes: compare bytes, decode nothing.
        for key, value in message.get("headers") or ():
            if key == b"content-type":
                return bytes(value).lower().startswith(self.stream_prefixes)
        return False

    async def _answer(
        self, scope: Scope, send: Send, component: str, respond: Callable[[], Awaitable[Answer]]
    ) -> None:
        """Send what ``respond`` made; a fault in it is contained and answered with a 500."""
        try:
            status, headers, body = await respond()
        except Exception as exc:
            faults.report(component, exc, self.wk.registry)
            what = component.partition(".")[0]
            status, headers, body = (
                500,
                [("content-type", "text/plain")],
                f"{what} unavailable\n".encode(),
            )
        await _send_response(scope, send, status, headers, body)

    async def _serve_health(self, scope: Scope, receive: Receive, send: Send) -> None:
        health = self.wk.health
        assert health is not None  # only mounted when configured
        path, method = scope.get("path", ""), scope.get("method", "GET")
        auth = _header(scope, b"authorization")
        await self._answer(
            scope, send, "health.respond", lambda: health.respond_async(path, method, auth)
        )

    async def _serve_profile(self, scope: Scope, receive: Receive, send: Send) -> None:
        profile = self.wk.profile
        assert profile is not None  # only mounted when configured
        method, auth = scope.get("method", "GET"), _header(scope, b"authorization")
        query = bytes(scope.get("query_string") or b"").decode("latin-1")
        await self._answer(
            scope, send, "profile.respond", lambda: profile.respond_async(method, query, auth)
        )

    async def _serve_metrics(self, scope: Scope, receive: Receive, send: Send) -> None:
        accept, encoding = _header(scope, b"accept"), _header(scope, b"accept-encoding")
        auth = _header(scope, b"authorization")

        async def respond() -> Answer:
            return self.wk.endpoint.respond(accept, encoding, auth)

        await self._answer(scope, send, "metrics.render", respond)

    async def _serve_rum(self, scope: Scope, receive: Receive, send: Send) -> None:
        from watchkeeper.instrument.rum import serve_asgi  # only apps with RUM on need it

        assert self.wk.rum is not None  # only mounted when configured
        await serve_asgi(self.wk.rum, scope, receive, send)
