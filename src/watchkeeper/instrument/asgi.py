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
    asgi_skip_of,
    begin_hooks,
    end_hooks,
)

__all__ = ["ASGIApp", "WatchkeeperMiddleware"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Answer = tuple[int, list[tuple[str, str]], bytes]  # a response watchkeeper makes itself

# A request's phases (compared by identity: the cheapest test the interpreter has).
RUNNING, LAST_CHUNK, RECORDED = "running", "last chunk", "recorded"


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
        self.http = instrumentation.http
        self.single_routes: dict[int, tuple[Any, str]] = getattr(
            instrumentation.route_of, "single", {}
        )
        # Paths not measured: the ones watchkeeper answers itself and the excluded
        # ones, passed through; one lookup on the hot path.
        self.special: dict[str, ASGIApp] = dict.fromkeys(
            instrumentation.exclude_paths, self._pass_through
        )
        if instrumentation.health is not None:
            for health_path in instrumentation.health.paths.all():
                self.special[health_path] = self._serve_health
        if self.metrics_path is not None:
            self.special[self.metrics_path] = self._serve_metrics
        if instrumentation.rum is not None:
            for rum_path in instrumentation.rum.paths():
                self.special[rum_path] = self._serve_rum
        if instrumentation.profile is not None:
            self.special[instrumentation.profile.path] = self._serve_profile
        self.hooks = instrumentation.hooks
        self.skip = asgi_skip_of(self.hooks)
        self.exemplar_of = instrumentation.exemplar_of
        self.errors = instrumentation.errors
        self._lag_pending = instrumentation.loop_lag  # the loop monitor is not started yet
        self.stream_prefixes = tuple(
            t.encode("latin-1") for t in instrumentation.stream_content_types
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # One coroutine per request: every extra await layer costs ~0.5 µs.
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        special = self.special.get(path)  # ours to answer, or excluded: one lookup
        if special is not None:
            await special(scope, receive, send)
            return
        # The hot path, written for the interpreter (docs/benchmarks.md has the
        # instruction counts): every value the closures share is a cell made per
        # request, so they share only what changes per request and read the rest from
        # ``self`` where it is used once; no per-request objects besides the two
        # closures and the recorded tuple; every feature's cost is paid only when that
        # feature is in play (body bytes, disconnects, streams, hooks).
        start = perf_counter()
        method = scope.get("method", "GET")
        if method not in KNOWN_METHODS:
            method = OTHER_METHOD
        inflight = self.inflight.get(method)
        if inflight is None:
            inflight = self.inflight[method] = self.wk.http.inflight(method)
        inflight.append(None)
        if self._lag_pending:
            self._start_loop_monitor()
        status = 0
        received = 0
        sent = 0
        disconnected = False
        # RUNNING -> LAST_CHUNK (the last chunk is on its way: a disconnect now is not
        # early) -> RECORDED (measured exactly once)
        phase = RUNNING
        head: Message | None = None  # the response head, until the body says if it streams
        head_at = 0.0
        stream_start = 0.0  # when set, the response is a stream: measured apart
        started = skipped = None
        if self.hooks:  # request ids, spans: only when installed
            skip = self.skip
            if skip is not None:  # one hook, with a fast path (hooks.py)
                try:
                    skipped = skip(scope)
                except Exception as exc:
                    faults.report("hooks.begin", exc, self.wk.registry)
            if skipped is None:
                started = self._begin_hooks(scope, method, path)

        async def wrapped_receive() -> Message:
            nonlocal received, disconnected
            message = await receive()
            mtype = message.get("type")
            if mtype == "http.request":
                received += len(message.get("body") or b"")
            elif mtype == "http.disconnect" and phase is RUNNING:
                disconnected = True
            return message

        async def wrapped_send(message: Message) -> None:
            nonlocal status, sent, disconnected, phase, head, head_at, stream_start
            mtype = message.get("type")
            if mtype == "http.response.body":
                sent += len(message.get("body") or b"")
                if message.get("more_body"):
                    # The first partial chunk tells whether this is a stream: a
                    # one-chunk response, the common case, never pays the header scan.
                    if head is not None:
                        stream_start = self._stream_start(
                            head, method, scope, status, head_at - start, received
                        )
                        head = None
                else:
                    phase = LAST_CHUNK
                    if started is not None:
                        started.last_byte_at = perf_counter()
                    try:
                        await send(message)
                    except OSError:
                        disconnected = True
                        raise
                    if phase is not RECORDED:  # the common ending, inlined: no extra call
                        phase = RECORDED
                        try:
                            inflight.pop()
                            if stream_start:
                                self.wk.http.record_stream(
                                    method, self.wk.route_of(scope), perf_counter() - start
                                )
                            else:  # HTTPMetrics.record, inlined: one tuple appended
                                # the route resolver's dict read inline (routes.py)
                                matched = scope.get("route")
                                entry = self.single_routes.get(id(matched))
                                if entry is not None and entry[0] is matched:
                                    route = entry[1]
                                else:
                                    route = self.wk.route_of(scope)
                                item = (
                                    method, route, 499 if disconnected else status,
                                    self._handled_error(scope, method, route)
                                    if status >= 500 else "",
                                    perf_counter() - start, received, sent,
                                )  # fmt: skip
                                http = self.http
                                pending = http.pending
                                pending.append(item)
                                if self.exemplar_of is not None:  # tracing on
                                    # one C call: the request span's labels, falsy if
                                    # unsampled (tracing/exemplars.py)
                                    labels = self.exemplar_of()
                                    if labels:
                                        http.add_exemplar(item, labels)
                                if len(pending) > http.wake_at:
                                    http.backlog()
                        except Exception as exc:
                            faults.report("asgi.record", exc, self.wk.registry)
                    return
            elif mtype == "http.response.start":
                status = message.get("status", 0)
                if started is not None and started.headers:
                    self._add_headers(message, started)
                head = message  # kept until the body shows whether it streams
                head_at = perf_counter()  # a stream's answer time (a clock read costs
                # less than scanning every response's headers here)
            try:
                await send(message)
            except OSError:
                disconnected = True
                raise

        try:
            await self.app(scope, wrapped_receive, wrapped_send)
        except BaseException as exc:
            if phase is not RECORDED:
                phase = RECORDED
                if head is not None:
                    stream_start = self._stream_start(
                        head, method, scope, status, head_at - start, received
                    )
                cancelled = isinstance(exc, asyncio.CancelledError)
                self._finish_abnormally(
                    scope, method, inflight, start, status, received, sent, stream_start,
                    disconnected or cancelled, type(exc).__qualname__,
                )  # fmt: skip
            if self.errors is not None and not disconnected:  # raised, even after the response
                self._track(exc, scope, method)
            if started is not None:
                self._end_hooks(started, scope, start, status, exc, received, sent, disconnected)
            elif skipped is not None:
                skipped.var.reset(skipped)
            raise
        if phase is not RECORDED:  # the app returned without completing its response
            phase = RECORDED
            if head is not None:
                stream_start = self._stream_start(
                    head, method, scope, status, head_at - start, received
                )
            self._finish_abnormally(
                scope, method, inflight, start, status, received, sent, stream_start,
                disconnected, "",
            )  # fmt: skip
        if started is not None:
            self._end_hooks(started, scope, start, status, None, received, sent, disconnected)
        elif skipped is not None:
            skipped.var.reset(skipped)

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
        self._lag_pending = False
        try:
            runtime.ensure_loop_monitor(self.wk.registry)
        except Exception as exc:
            faults.report("asgi.loop_lag", exc, self.wk.registry)

    def _stream_start(
        self, head: Message, method: str, scope: Scope, status: int, to_head: float, received: int
    ) -> float:
        """0.0 if ``head`` is not a stream's; else the head is recorded as the request's
        answer (measured to when it was sent) and the stream, measured apart from then
        on, starts now (the returned time)."""
        try:
            for key, value in head.get("headers") or ():
                if key == b"content-type":
                    if not bytes(value).lower().startswith(self.stream_prefixes):
                        return 0.0
                    route = self.wk.route_of(scope)
                    exemplar = self._exemplar()
                    self.wk.http.record(method, route, status, "", to_head, received, 0, exemplar)
                    return perf_counter() or 1e-9
        except Exception as exc:
            faults.report("asgi.send", exc, self.wk.registry)
        return 0.0

    async def _pass_through(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

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
