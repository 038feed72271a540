"""WSGI middleware: golden-signal metrics for Flask, Django and any WSGI app, and /metrics.

It sees exceptions raised by the app (500 with ``error_type``) and streamed bodies:
the response iterable is wrapped so bytes are counted as the server pulls them and
the duration stops when the last chunk has been handed over (``close()`` hooks,
like Flask's ``call_on_close``, run after and are not counted). A server that
closes the iterable before it is exhausted lost its client: that is a 499.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from http import HTTPStatus
from time import perf_counter
from typing import Any

from watchkeeper.instrument import faults
from watchkeeper.instrument._semconv import KNOWN_METHODS, OTHER_METHOD, UNMATCHED_ROUTE
from watchkeeper.instrument.config import Instrumentation
from watchkeeper.instrument.errors import is_app_error
from watchkeeper.instrument.hooks import (
    RequestEnd,
    Started,
    WSGIRequestInfo,
    begin_hooks,
    end_hooks,
)
from watchkeeper.instrument.routes import generic_route

__all__ = ["WSGIApp", "WSGIMiddleware"]

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]


class _CountingInput:
    """Wraps ``wsgi.input`` to count the request body bytes the app actually reads."""

    __slots__ = ("_raw", "count")

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self.count = 0

    def read(self, *args: Any) -> bytes:
        data: bytes = self._raw.read(*args)
        self.count += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        n: int | None = self._raw.readinto(buffer)
        self.count += n or 0
        return n or 0

    def readline(self, *args: Any) -> bytes:
        data: bytes = self._raw.readline(*args)
        self.count += len(data)
        return data

    def readlines(self, *args: Any) -> list[bytes]:
        lines: list[bytes] = self._raw.readlines(*args)
        self.count += sum(len(line) for line in lines)
        return lines

    def __iter__(self) -> Iterator[bytes]:
        for line in self._raw:
            self.count += len(line)
            yield line

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


class _Exchange:
    """One request, finished exactly once: its measurements, the ``start_response``
    handed to the app (a bound method, no closure) and the response iterable given
    back to the server (``__iter__`` is the generator that passes chunks through).

    Built without ``__init__`` (the middleware fills the slots), so a request costs
    one allocation here, not a Python call per helper object.
    """

    __slots__ = (
        "body",
        "done",
        "environ",
        "inflight",
        "method",
        "mw",
        "respond",
        "response_bytes",
        "result",
        "start",
        "started",
        "status",
    )

    mw: WSGIMiddleware
    environ: Environ
    method: str
    inflight: list[None]
    respond: StartResponse  # the server's start_response
    start: float
    status: int
    response_bytes: int
    done: bool
    body: _CountingInput | None
    started: Started | None
    result: Iterable[bytes]

    def start_response(self, status: str, headers: Any, exc_info: Any = None) -> Any:
        try:
            self.status = int(status[:3])
            on_start = self.mw.wk.on_start_response
            if on_start is not None:
                on_start(self.environ)
            started = self.started
            if started is not None and started.headers:
                present = {str(k).lower() for k, _ in headers}
                # The app's own value wins (it may set X-Request-ID itself).
                headers = [*headers, *(h for h in started.headers if h[0].lower() not in present)]
        except Exception as exc:
            faults.report("wsgi.status", exc, self.mw.wk.registry)
        return self.respond(status, headers, exc_info)

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self.result:
                self.response_bytes += len(chunk)
                yield chunk
        except GeneratorExit:
            raise
        except BaseException as exc:
            self.finish(exc)
            raise
        self.finish(None)

    def close(self) -> None:
        try:
            close = getattr(self.result, "close", None)
            if close is not None:
                close()
        finally:
            if not self.done:  # closed before the last chunk: the client went away
                self.finish(None, status=499)

    def finish(self, error: BaseException | None, status: int | None = None) -> None:
        if self.done:
            return
        duration = perf_counter() - self.start
        self.done = True
        wk = self.mw.wk
        environ = self.environ
        try:
            self.inflight.pop()
            if error is None:
                # Flask and Django turn an exception into a 500 themselves; their
                # exception signal left it here (api.py) so it is not lost.
                error = environ.get("watchkeeper.error")
            code = status if status is not None else (self.status or 500)
            body = self.body
            request_bytes = body.count if body is not None else 0
            route_of = wk.route_of
            if route_of is generic_route:  # inlined: no call for what Flask and Django left
                route = environ.get("watchkeeper.route")
                if not isinstance(route, str) or not route:
                    route = UNMATCHED_ROUTE
            else:
                route = route_of(environ)
            error_type = type(error).__qualname__ if error is not None else ""
            # Tracing on: the request's span is still current here (hooks end after).
            exemplar = (wk.exemplar_of() or None) if wk.exemplar_of is not None else None
            wk.http.record(
                self.method, route, code, error_type, duration, request_bytes,
                self.response_bytes, exemplar,
            )  # fmt: skip
        except Exception as exc:
            faults.report("wsgi.record", exc, wk.registry)
            return
        if error is not None and code != 499 and wk.errors is not None and is_app_error(error):
            wk.errors.track(error, route=route, method=self.method)  # never raises
        if self.started is not None:
            outcome = RequestEnd(route, code, error, duration, request_bytes, self.response_bytes)
            end_hooks(self.started, outcome, wk.registry)


def _respond(
    environ: Environ,
    start_response: StartResponse,
    status: int,
    headers: list[tuple[str, str]],
    body: bytes,
) -> Iterable[bytes]:
    """Answer with a response watchkeeper made itself (metrics, health)."""
    start_response(f"{status} {HTTPStatus(status).phrase}", headers)
    return [body] if environ.get("REQUEST_METHOD") != "HEAD" else [b""]


class WSGIMiddleware:
    """``app.wsgi_app = WSGIMiddleware(app.wsgi_app, instrumentation=...)``."""

    def __init__(self, app: WSGIApp, *, instrumentation: Instrumentation) -> None:
        self.app = app
        self.wk = instrumentation
        self.__watchkeeper__ = instrumentation
        self.inflight: dict[str, list[None]] = {}
        # Paths answered by watchkeeper itself, never measured: one lookup on the hot path.
        self.intercepted: dict[str, Callable[[Environ, StartResponse], Iterable[bytes]]] = {}
        self.hooks = instrumentation.hooks
        if instrumentation.health is not None:
            for health_path in instrumentation.health.paths.all():
                self.intercepted[health_path] = self._serve_health
        if instrumentation.metrics_path is not None:
            self.intercepted[instrumentation.metrics_path] = self._serve_metrics
        if instrumentation.rum is not None:
            for rum_path in instrumentation.rum.paths():
                self.intercepted[rum_path] = self._serve_rum
        if instrumentation.profile is not None:
            self.intercepted[instrumentation.profile.path] = self._serve_profile

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        wk = self.wk
        path = environ.get("PATH_INFO", "")
        if path in self.intercepted:
            return self.intercepted[path](environ, start_response)
        if path in wk.exclude_paths:
            return self.app(environ, start_response)
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in KNOWN_METHODS:
            method = OTHER_METHOD
        inflight = self.inflight.get(method)
        if inflight is None:
            inflight = self.inflight[method] = wk.http.inflight(method)
        inflight.append(None)
        x = _Exchange()
        x.mw = self
        x.environ = environ
        x.method = method
        x.inflight = inflight
        x.respond = start_response
        x.status = x.response_bytes = 0
        x.done = False
        x.body = x.started = None
        x.start = perf_counter()
        try:
            # Only a request that may carry a body (a length, or chunked) pays for the
            # counting wrapper: a GET without either has no body to count.
            length = environ.get("CONTENT_LENGTH")
            if (length and length != "0") or "HTTP_TRANSFER_ENCODING" in environ:
                raw_input = environ.get("wsgi.input")
                if raw_input is not None:
                    x.body = environ["wsgi.input"] = _CountingInput(raw_input)
        except Exception as exc:
            faults.report("wsgi.input", exc, wk.registry)
        if self.hooks:  # request ids, spans, error tracking: only when installed
            x.started = begin_hooks(self.hooks, WSGIRequestInfo(method, path, environ), wk.registry)
        try:
            x.result = self.app(environ, x.start_response)
        except BaseException as exc:
            x.finish(exc)
            raise
        return x

    def _answer(
        self,
        environ: Environ,
        start_response: StartResponse,
        component: str,
        respond: Callable[[], tuple[int, list[tuple[str, str]], bytes]],
    ) -> Iterable[bytes]:
        """Answer what ``respond`` made; a fault in it is contained and answered with a 500."""
        try:
            status, headers, body = respond()
        except Exception as exc:
            faults.report(component, exc, self.wk.registry)
            what = component.partition(".")[0]
            status, headers, body = (
                500,
                [("content-type", "text/plain")],
                f"{what} unavailable\n".encode(),
            )
        return _respond(environ, start_response, status, headers, body)

    def _serve_health(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        health = self.wk.health
        assert health is not None  # only mounted when configured
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        auth = environ.get("HTTP_AUTHORIZATION", "")
        return self._answer(
            environ, start_response, "health.respond", lambda: health.respond(path, method, auth)
        )

    def _serve_profile(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        profile = self.wk.profile
        assert profile is not None  # only mounted when configured
        method, auth = environ.get("REQUEST_METHOD", "GET"), environ.get("HTTP_AUTHORIZATION", "")
        query = environ.get("QUERY_STRING", "")
        return self._answer(
            environ, start_response, "profile.respond", lambda: profile.respond(method, query, auth)
        )

    def _serve_metrics(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        accept, encoding = environ.get("HTTP_ACCEPT", ""), environ.get("HTTP_ACCEPT_ENCODING", "")
        auth = environ.get("HTTP_AUTHORIZATION", "")
        return self._answer(
            environ,
            start_response,
            "metrics.render",
            lambda: self.wk.endpoint.respond(accept, encoding, auth),
        )

    def _serve_rum(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        from watchkeeper.instrument.rum import serve_wsgi  # only apps with RUM on need it

        assert self.wk.rum is not None  # only mounted when configured
        return serve_wsgi(self.wk.rum, environ, start_response)
