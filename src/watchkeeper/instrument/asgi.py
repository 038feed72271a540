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

__all__ = ["ASGIApp", "WatchkeeperMiddleware"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers") or ():
        if key == name:
            return bytes(value).decode("latin-1")
    return ""


class WatchkeeperMiddleware:
    """``WatchkeeperMiddleware(app, instrumentation=...)``: add it outermost."""

    def __init__(self, app: ASGIApp, *, instrumentation: Instrumentation) -> None:
        self.app = app
        self.wk = instrumentation
        self.__watchkeeper__ = instrumentation

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wk = self.wk
        path = scope.get("path", "")
        if path == wk.metrics_path:
            await self._serve_metrics(scope, send)
            return
        if path in wk.exclude_paths:
            await self.app(scope, receive, send)
            return
        await self._instrumented(scope, receive, send)

    async def _instrumented(self, scope: Scope, receive: Receive, send: Send) -> None:
        wk = self.wk
        start = perf_counter()
        method = scope.get("method", "GET")
        if method not in KNOWN_METHODS:
            method = OTHER_METHOD
        http = wk.http
        try:
            if wk.loop_lag:
                runtime.ensure_loop_monitor(wk.registry)
            active = http.active.labels(method)
            active.inc()
        except Exception as exc:
            faults.report("asgi.start", exc, wk.registry)
            active = None

        status = 0
        request_bytes = 0
        response_bytes = 0
        disconnected = False
        recorded = False
        completing = False  # the last chunk is on its way: a disconnect now is not early
        stream_start = 0.0

        def finish(error_type: str, end: float) -> None:
            nonlocal recorded
            recorded = True
            try:
                code = 499 if disconnected else (status or 500)
                route = wk.route_of(scope)
                if stream_start:
                    http.record_stream(method, route, end - start)
                    if active is not None:
                        active.dec()
                    return
                http.record(
                    method, route, code, error_type, end - start,
                    request_bytes, response_bytes, active,
                )  # fmt: skip
            except Exception as exc:
                faults.report("asgi.record", exc, wk.registry)

        async def wrapped_receive() -> Message:
            nonlocal request_bytes, disconnected
            message = await receive()
            try:
                mtype = message["type"]
                if mtype == "http.request":
                    request_bytes += len(message.get("body") or b"")
                elif mtype == "http.disconnect" and not completing:
                    disconnected = True
            except Exception as exc:
                faults.report("asgi.receive", exc, wk.registry)
            return message

        async def wrapped_send(message: Message) -> None:
            nonlocal status, response_bytes, stream_start, completing, disconnected
            last = False
            try:
                mtype = message["type"]
                if mtype == "http.response.body":
                    response_bytes += len(message.get("body") or b"")
                    last = not message.get("more_body", False)
                    completing = last
                elif mtype == "http.response.start":
                    status = int(message["status"])
                    if wk.stream_content_types and self._is_stream(message):
                        # The head is the request's answer; the stream is measured apart.
                        now = perf_counter()
                        route = wk.route_of(scope)
                        http.record(method, route, status, "", now - start, request_bytes, 0, None)
                        stream_start = now
            except Exception as exc:
                faults.report("asgi.send", exc, wk.registry)
            try:
                await send(message)
            except OSError:
                disconnected = True
                raise
            if last and not recorded:
                finish("", perf_counter())

        try:
            await self.app(scope, wrapped_receive, wrapped_send)
        except asyncio.CancelledError:
            if not recorded:
                disconnected = True
                finish("CancelledError", perf_counter())
            raise
        except BaseException as exc:
            if not recorded:
                finish(type(exc).__qualname__, perf_counter())
            raise
        if not recorded:  # the app returned without completing its response
            finish("", perf_counter())

    def _is_stream(self, message: Message) -> bool:
        for key, value in message.get("headers") or ():
            if bytes(key).lower() == b"content-type":
                ctype = bytes(value).decode("latin-1").split(";", 1)[0].strip().lower()
                return ctype in self.wk.stream_content_types
        return False

    async def _serve_metrics(self, scope: Scope, send: Send) -> None:
        try:
            status, headers, body = self.wk.endpoint.respond(
                _header(scope, b"accept"),
                _header(scope, b"accept-encoding"),
                _header(scope, b"authorization"),
            )
        except Exception as exc:
            faults.report("metrics.render", exc, self.wk.registry)
            status, headers, body = 500, [("content-type", "text/plain")], b"metrics unavailable\n"
        raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send(
            {"type": "http.response.body", "body": body if scope["method"] != "HEAD" else b""}
        )
