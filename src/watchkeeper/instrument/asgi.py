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
# What _Exchange.head becomes once the response is judged a stream (compared by identity).
STREAMING: Message = {"type": "watchkeeper.streaming"}


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers") or ():
        if key == name:
            return bytes(value).decode("latin-1")
    return ""


def _raised_by(exc: BaseException, send: Send) -> bool:
    """Whether ``exc`` came out of the server's ``send``: its frame is in the traceback.

    A send that is not a Python function or method (a server written in C or Rust)
    leaves no frame to find: an OSError after its response head is then taken as
    the connection's, as the ASGI spec says such sends raise on a closed connection.
    """
    code = getattr(getattr(send, "__func__", send), "__code__", None)
    if code is None:
        return True
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code is code:
            return True
        tb = tb.tb_next
    return False


async def _send_response(
    scope: Scope, send: Send, status: int, headers: list[tuple[str, str]], body: bytes
) -> None:
    """Answer with a response watchkeeper made itself (metrics, health)."""
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body if scope["method"] != "HEAD" else b""})


class _Exchange:
    """One request in flight: its state, and the ``receive``/``send`` the app gets.

    The middleware sets the slots before the app runs (no ``__init__``: a call frame
    per request saved); ``head_at`` is set with ``head``. ``phase`` goes RUNNING ->
    LAST_CHUNK (the last chunk is on its way: a disconnect now is not early) ->
    RECORDED (measured exactly once).
    """

    __slots__ = (
        "disconnected", "head", "head_at", "inflight", "method", "mw", "phase",
        "receive_", "received", "scope", "send_", "sent", "start", "status",
    )  # fmt: skip

    mw: WatchkeeperMiddleware
    scope: Scope
    method: str
    start: float
    inflight: list[None]
    receive_: Receive
    send_: Send
    status: int
    received: int  # request body bytes
    sent: int  # response body bytes
    disconnected: bool
    phase: str
    # the response head until the body says whether it streams; then STREAMING (a
    # stream: measured apart) or None (not one)
    head: Message | None
    head_at: float  # when the head was sent: a stream's answer time

    async def receive(self) -> Message:
        message = await self.receive_()
        try:  # a subscript costs less than .get(); a try costs nothing until it raises
            mtype = message["type"]
        except (KeyError, TypeError):
            return message
        if mtype == "http.request":
            self.received += len(message.get("body") or b"")
        elif mtype == "http.disconnect" and self.phase is RUNNING:
            self.disconnected = True
        return message

    def send(self, message: Message) -> Awaitable[None]:
        # A plain function: the response head goes to the server's own send, with no
        # coroutine of ours around it (an OSError it raises is judged where it ends
        # up, in the middleware: _raised_by). The last chunk and the chunks of a
        # stream go through coroutines that watch them.
        try:
            mtype = message["type"]
        except (KeyError, TypeError):
            return self._send_watched(message)  # not ours to judge: the server answers it
        if mtype == "http.response.start":
            self.status = message.get("status", 0)
            self.head = message  # kept until the body shows whether it streams
            # a stream's answer time (a clock read costs less than scanning every
            # response's headers here)
            self.head_at = perf_counter()
            return self.send_(message)
        if mtype == "http.response.body":
            self.sent += len(message.get("body") or b"")
            if not message.get("more_body"):
                return self._send_last(message)
            # The first partial chunk tells whether this is a stream: a one-chunk
            # response, the common case, never pays the header scan.
            if self.head is not None and self.head is not STREAMING:
                self.mw._judge_stream(self)
        return self._send_watched(message)

    async def _send_watched(self, message: Message) -> None:
        try:
            await self.send_(message)
        except OSError:
            self.disconnected = True
            raise

    async def _send_last(self, message: Message) -> None:
        """Send the last chunk, then record the request: HTTPMetrics.record, inlined
        (its three values added to its key's list in one ``+=``), the route
        resolver's dict read inline (routes.py)."""
        self.phase = LAST_CHUNK
        try:
            await self.send_(message)
        except OSError:
            self.disconnected = True
            raise
        if self.phase is RECORDED:
            return
        self.phase = RECORDED
        mw = self.mw
        try:
            self.inflight.pop()
            scope = self.scope
            if self.head is STREAMING:
                route = mw.wk.route_of(scope)
                mw.http.record_stream(self.method, route, perf_counter() - self.start)
                return
            route = mw.single_routes.get(id(scope.get("route"))) or mw.wk.route_of(scope)
            status = self.status
            key = (
                self.method, route, 499 if self.disconnected else status,
                mw._handled_error(scope, self.method, route) if status >= 500 else "",
            )  # fmt: skip
            duration = perf_counter() - self.start
            http = mw.http
            try:  # the key's list (HTTPMetrics.observations); a subscript costs less than .get()
                found: list[float] | None = mw.observed[key]
            except KeyError:
                found = http.observations(key)
            if found is None:  # past the label budget: recorded whole
                http.record(*key, duration, self.received, self.sent, mw._exemplar())
                return
            found += (duration, self.received, self.sent)
            if mw.exemplar_of is not None:  # tracing on
                # one C call: the request span's labels, falsy if unsampled
                # (tracing/exemplars.py)
                labels = mw.exemplar_of()
                if labels:
                    http.add_exemplar(key, duration, labels)
            if len(found) > http.wake_at:
                http.backlog()
        except Exception as exc:
            faults.report("asgi.record", exc, mw.wk.registry)


class _HookedExchange(_Exchange):
    """A request with hooks begun (request ids, spans): their response headers are
    added to the head and the last byte's time is kept for them."""

    __slots__ = ("started",)
    started: Started

    async def send(self, message: Message) -> None:
        try:
            mtype = message["type"]
            if mtype == "http.response.start":
                if self.started.headers:
                    self.mw._add_headers(message, self.started)
            elif mtype == "http.response.body" and not message.get("more_body"):
                self.started.last_byte_at = perf_counter()
        except Exception as exc:
            faults.report("hooks.send", exc, self.mw.wk.registry)
        await _Exchange.send(self, message)


class WatchkeeperMiddleware:
    """``WatchkeeperMiddleware(app, instrumentation=...)``: add it outermost."""

    def __init__(self, app: ASGIApp, *, instrumentation: Instrumentation) -> None:
        self.app = app
        self.wk = instrumentation
        self.__watchkeeper__ = instrumentation
        self.inflight: dict[str, list[None]] = {}
        self.metrics_path = instrumentation.metrics_path
        self.http = instrumentation.http
        self.observed = self.http.observed
        self.single_routes: dict[int, str] = getattr(instrumentation.route_of, "single", {})
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
        try:  # keys every HTTP scope has; a subscript costs less than .get()
            path = scope["path"]
            method = scope["method"]
        except KeyError:
            path, method = scope.get("path", ""), scope.get("method", "GET")
        special = self.special.get(path)  # ours to answer, or excluded: one lookup
        if special is not None:
            await special(scope, receive, send)
            return
        # The hot path, written for the interpreter (docs/benchmarks.md has the
        # instruction counts): one slotted object holds the request's state and is
        # what the app's receive and send are bound to (closures would cost a cell
        # per shared variable and two function objects per request); every feature's
        # cost is paid only when that feature is in play (body bytes, disconnects,
        # streams, hooks).
        start = perf_counter()
        inflight = self.inflight.get(method)  # known methods only: bounded
        if inflight is None:
            method, inflight = self._first_of(method)
        inflight.append(None)
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
        if started is None:
            ex = _Exchange()
        else:
            ex = _HookedExchange()
            ex.started = started
        ex.start = start
        ex.mw = self
        ex.scope = scope
        ex.method = method
        ex.inflight = inflight
        ex.receive_ = receive
        ex.send_ = send
        ex.status = ex.received = ex.sent = 0
        ex.disconnected = False
        ex.phase = RUNNING
        ex.head = None
        try:
            await self.app(scope, ex.receive, ex.send)
        except BaseException as exc:
            if isinstance(exc, OSError) and ex.status and not ex.disconnected:
                # the head went to the server's send unwatched (send): did it raise this?
                try:
                    ex.disconnected = _raised_by(exc, send)
                except Exception as fault:
                    faults.report("asgi.send", fault, self.wk.registry)
            if ex.phase is not RECORDED:
                ex.phase = RECORDED
                self._judge_stream(ex)
                cancelled = isinstance(exc, asyncio.CancelledError)
                self._finish_abnormally(ex, ex.disconnected or cancelled, type(exc).__qualname__)
            if self.errors is not None and not ex.disconnected:  # raised, even after the response
                self._track(exc, scope, method)
            if started is not None:
                self._end_hooks(started, ex, exc)
            elif skipped is not None:
                skipped.var.reset(skipped)
            raise
        if ex.phase is not RECORDED:  # the app returned without completing its response
            ex.phase = RECORDED
            self._judge_stream(ex)
            self._finish_abnormally(ex, ex.disconnected, "")
        if started is not None:
            self._end_hooks(started, ex, None)
        elif skipped is not None:
            skipped.var.reset(skipped)

    def _first_of(self, method: str) -> tuple[str, list[None]]:
        """(method label, in-flight list) for a method not seen yet; an unknown method
        is ``_OTHER`` (and stays uncached, so the cache is bounded). The first request
        also starts the event-loop lag monitor: it runs inside the server's loop."""
        if self._lag_pending:
            self._start_loop_monitor()
        label = method if method in KNOWN_METHODS else OTHER_METHOD
        inflight = self.inflight.get(label)
        if inflight is None:
            inflight = self.inflight[label] = self.wk.http.inflight(label)
        return label, inflight

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

    def _end_hooks(self, started: Started, ex: _Exchange, error: BaseException | None) -> None:
        try:
            end = started.last_byte_at or perf_counter()
            if error is None:
                error = ex.scope.get("watchkeeper.error")
            gone = ex.disconnected or isinstance(error, asyncio.CancelledError)
            code = 499 if gone else (ex.status or 500)
            route = self.wk.route_of(ex.scope)
            outcome = RequestEnd(route, code, error, end - ex.start, ex.received, ex.sent)
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

    def _finish_abnormally(self, ex: _Exchange, disconnected: bool, error_type: str) -> None:
        """Record a request that did not end with its last chunk: raised, cancelled,
        or returned early. Off the hot path: most requests never need it."""
        try:
            end = perf_counter()
            ex.inflight.pop()
            wk = self.wk
            route = wk.route_of(ex.scope)
            if ex.head is STREAMING:
                wk.http.record_stream(ex.method, route, end - ex.start)
                return
            code = 499 if disconnected else (ex.status or 500)
            wk.http.record(
                ex.method, route, code, error_type, end - ex.start, ex.received, ex.sent,
                self._exemplar(),
            )  # fmt: skip
        except Exception as exc:
            faults.report("asgi.record", exc, self.wk.registry)

    def _start_loop_monitor(self) -> None:
        # Once per middleware: a server runs one event loop for its life.
        self._lag_pending = False
        try:
            runtime.ensure_loop_monitor(self.wk.registry)
        except Exception as exc:
            faults.report("asgi.loop_lag", exc, self.wk.registry)

    def _judge_stream(self, ex: _Exchange) -> None:
        """Decide from the kept response head whether the response is a stream: if so
        the head is recorded as the request's answer (measured to when it was sent),
        the stream is measured apart from then on and ``ex.head`` becomes STREAMING;
        otherwise None. Nothing to do when no head is kept or it was judged already."""
        head = ex.head
        if head is None or head is STREAMING:
            return
        ex.head = None
        try:
            for key, value in head.get("headers") or ():
                if key == b"content-type":
                    if not bytes(value).lower().startswith(self.stream_prefixes):
                        return
                    route = self.wk.route_of(ex.scope)
                    self.wk.http.record(
                        ex.method, route, ex.status, "", ex.head_at - ex.start, ex.received, 0,
                        self._exemplar(),
                    )  # fmt: skip
                    ex.head = STREAMING
                    return
        except Exception as exc:
            faults.report("asgi.send", exc, self.wk.registry)

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
