"""Real-user monitoring: browsers report page-load and API-call timings by page route.

    app = watchkeeper.instrument(app, rum=["/", "/products/{id}", "/checkout"])
    # in the page: <script src="/_watchkeeper/rum.js" defer></script>

The SDK serves a small script (``static/rum.js``) and a beacon endpoint. The
endpoint is public, so it trusts nothing it is sent:

- ``POST`` only (405), ``application/json`` or ``text/plain`` only (415), a body of
  at most ``max_body`` bytes (413, checked before and while reading);
- a per-client token bucket (``rate`` beacons a second, ``burst`` at once; 429),
  over at most ``max_clients`` remembered clients;
- a strict schema (400): ``{"v": 1, "page": "/path", "load": s, "ttfb": s,
  "api": [s, ...]}`` with no other field, finite seconds in [0, 600], at most 50
  API timings;
- the page path is matched against the allow-listed route templates and anything
  else is ``_other``: every series exists from the start and no request can add one.

Metrics: ``rum_page_load_duration_seconds{page}``, ``rum_time_to_first_byte_seconds{page}``,
``rum_api_call_duration_seconds{page}`` and ``rum_beacons_total{result}`` (accepted,
or why a beacon was refused).
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from http import HTTPStatus
from importlib import resources
from typing import Any

import orjson

from watchkeeper.errors import ConfigurationError
from watchkeeper.instrument import faults
from watchkeeper.instrument._semconv import DURATION_BUCKETS
from watchkeeper.instrument.registry import Registry

__all__ = ["OTHER_PAGE", "RUM", "RUMEndpoint", "serve_asgi", "serve_wsgi"]

OTHER_PAGE = "_other"
MAX_SECONDS = 600.0
MAX_API_TIMINGS = 50
MAX_PAGE_LENGTH = 2048
# Page loads: around the Web Vitals thresholds (2.5 s good, 4 s poor) and up to a minute.
PAGE_BUCKETS: tuple[float, ...] = (
    0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 7.5, 10.0, 20.0, 60.0,
)  # fmt: skip
RESULTS = ("accepted", "bad_method", "bad_content_type", "too_large", "malformed", "rate_limited")
_CONTENT_TYPES = frozenset({"application/json", "text/plain"})
_FIELDS = frozenset({"v", "page", "load", "ttfb", "api"})
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(:path)?\}")

Response = tuple[int, list[tuple[str, str]], bytes]


@dataclass(frozen=True, slots=True)
class RUM:
    """Real-user monitoring options for ``instrument(app, rum=RUM(pages=[...]))``.

    ``pages`` are route templates (``/products/{id}``; ``{rest:path}`` spans
    slashes); ``trust_forwarded`` keys the rate limit by the first address of
    ``X-Forwarded-For``: set it only behind a proxy that sets that header itself.
    """

    pages: Sequence[str]
    path: str = "/_watchkeeper/rum"
    script_path: str = "/_watchkeeper/rum.js"
    max_body: int = 4096
    rate: float = 1.0
    burst: int = 20
    max_clients: int = 10_000
    trust_forwarded: bool = False

    @classmethod
    def of(cls, value: RUM | Iterable[str]) -> RUM:
        if isinstance(value, str):  # a string is iterable too: "/" would become ("/",)
            raise ConfigurationError(
                f"rum pages must be a non-empty list of route templates, got {value!r}: "
                "e.g. rum=['/', '/products/{id}']"
            )
        rum = value if isinstance(value, RUM) else cls(pages=tuple(value))
        rum.validate()
        return rum

    def validate(self) -> None:
        if isinstance(self.pages, str) or not self.pages:
            raise ConfigurationError(
                f"rum pages must be a non-empty list of route templates, got {self.pages!r}: "
                "e.g. rum=['/', '/products/{id}']"
            )
        for page in self.pages:
            if not isinstance(page, str) or not page.startswith("/"):
                raise ConfigurationError(f"rum page {page!r} must be a path starting with '/'")
        for name in ("path", "script_path"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.startswith("/"):
                raise ConfigurationError(f"rum {name} must start with '/', got {value!r}")
        if self.path == self.script_path:
            raise ConfigurationError("rum path and script_path must differ")
        if not 64 <= self.max_body <= 1_000_000:
            raise ConfigurationError(f"rum max_body must be 64..1000000 bytes, got {self.max_body}")
        if self.rate <= 0 or self.burst < 1 or self.max_clients < 1:
            raise ConfigurationError(
                "rum rate must be > 0 beacons/s, burst >= 1 and max_clients >= 1, got "
                f"rate={self.rate}, burst={self.burst}, max_clients={self.max_clients}"
            )


def _matcher(template: str) -> re.Pattern[str]:
    out, last = [], 0
    for m in _PARAM.finditer(template):
        out.append(re.escape(template[last : m.start()]))
        out.append(".+" if m.group(2) else "[^/]+")
        last = m.end()
    out.append(re.escape(template[last:]))
    return re.compile("".join(out))


class _RateLimiter:
    """A token bucket per client, remembering at most ``max_clients`` (least recent go)."""

    def __init__(self, rate: float, burst: int, max_clients: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.max_clients = max_clients
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self.lock = threading.Lock()
        self.clock: Callable[[], float] = time.monotonic

    def allow(self, client: str) -> bool:
        now = self.clock()
        with self.lock:
            tokens, at = self.buckets.pop(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            allowed = tokens >= 1.0
            self.buckets[client] = (tokens - 1.0 if allowed else tokens, now)
            if len(self.buckets) > self.max_clients:
                self.buckets.popitem(last=False)
        return allowed


class _Malformed(ValueError):
    pass


def _seconds(payload: dict[str, Any], key: str) -> float | None:
    value = payload.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Malformed(f"{key} must be a number of seconds")
    if not math.isfinite(value) or not 0 <= value <= MAX_SECONDS:
        raise _Malformed(f"{key} must be between 0 and {MAX_SECONDS:g} seconds")
    return float(value)


class RUMEndpoint:
    """The script and beacon endpoints; framework-neutral like the metrics endpoint."""

    def __init__(self, config: RUM, registry: Registry) -> None:
        self.config = config
        self.registry = registry
        self.limiter = _RateLimiter(config.rate, config.burst, config.max_clients)
        self.exact = {p for p in config.pages if not _PARAM.search(p)}
        self.patterns = [(p, _matcher(p)) for p in config.pages if _PARAM.search(p)]
        pages = [*dict.fromkeys(config.pages), OTHER_PAGE]
        load = registry.histogram(
            "rum_page_load_duration_seconds", "Page load time in real browsers "
            "(navigation start to the end of the load event), by page route.",
            ["page"], buckets=PAGE_BUCKETS,
        )  # fmt: skip
        ttfb = registry.histogram(
            "rum_time_to_first_byte_seconds", "Time to the first byte of the page in real "
            "browsers, by page route.", ["page"], buckets=PAGE_BUCKETS,
        )  # fmt: skip
        api = registry.histogram(
            "rum_api_call_duration_seconds", "Duration of same-origin fetch/XHR calls as real "
            "browsers saw them, by the page that made them.", ["page"], buckets=DURATION_BUCKETS,
        )  # fmt: skip
        beacons = registry.counter(
            "rum_beacons", "RUM beacons received: accepted, or the reason they were refused.",
            ["result"],
        )  # fmt: skip
        # Every series exists from the start: nothing a browser sends can add one.
        self.load = {p: load.labels(p) for p in pages}
        self.ttfb = {p: ttfb.labels(p) for p in pages}
        self.api = {p: api.labels(p) for p in pages}
        self.beacons = {r: beacons.labels(r) for r in RESULTS}

    def paths(self) -> list[str]:
        return [self.config.path, self.config.script_path]

    @cached_property
    def script(self) -> bytes:
        text = resources.files("watchkeeper.instrument").joinpath("static", "rum.js").read_text()
        endpoint = orjson.dumps(self.config.path).decode()
        return text.replace('"__WATCHKEEPER_RUM_ENDPOINT__"', endpoint).encode()

    def page_route(self, path: str) -> str:
        if path in self.exact:
            return path
        for template, pattern in self.patterns:
            if pattern.fullmatch(path):
                return template
        return OTHER_PAGE

    # -- the protocol, in the order the middlewares call it -------------------------
    def serve_script(self, method: str) -> Response:
        if method not in ("GET", "HEAD"):
            return _error(405, "use GET", [("allow", "GET, HEAD")])
        headers = [
            ("content-type", "text/javascript; charset=utf-8"),
            ("cache-control", "public, max-age=3600"),
            ("x-content-type-options", "nosniff"),
        ]
        return 200, headers, self.script

    def precheck(
        self, method: str, content_type: str, content_length: str, client: str
    ) -> Response | None:
        """The answer that needs no body (a refusal), or None to read the body."""
        if method != "POST":
            return self._refuse("bad_method", 405, "use POST", [("allow", "POST")])
        if not self.limiter.allow(client):
            return self._refuse("rate_limited", 429, "too many beacons", [("retry-after", "60")])
        if content_type.split(";")[0].strip().lower() not in _CONTENT_TYPES:
            return self._refuse("bad_content_type", 415, "send application/json")
        if content_length:
            if not content_length.isdigit():
                return self._refuse("malformed", 400, "bad content-length")
            if int(content_length) > self.config.max_body:
                return self._too_large()
        return None

    def accept(self, body: bytes) -> Response:
        if len(body) > self.config.max_body:
            return self._too_large()
        try:
            self._record(body)
        except _Malformed as exc:
            return self._refuse("malformed", 400, str(exc))
        self.beacons["accepted"].inc()
        return 204, [], b""

    def _record(self, body: bytes) -> None:
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise _Malformed("the body is not JSON") from None
        if not isinstance(payload, dict):
            raise _Malformed("the body must be a JSON object")
        unknown = set(payload) - _FIELDS
        if unknown:
            raise _Malformed(f"unknown field(s): {', '.join(sorted(unknown)[:5])[:200]}")
        if payload.get("v") != 1 or isinstance(payload.get("v"), bool):
            raise _Malformed("v must be 1")
        page = payload.get("page")
        if not isinstance(page, str) or not page.startswith("/") or len(page) > MAX_PAGE_LENGTH:
            raise _Malformed("page must be the page's path, starting with '/'")
        load, ttfb = _seconds(payload, "load"), _seconds(payload, "ttfb")
        api = payload.get("api")
        if api is not None:
            if not isinstance(api, list) or len(api) > MAX_API_TIMINGS:
                raise _Malformed(f"api must be a list of at most {MAX_API_TIMINGS} durations")
            api = [_seconds({"api": v if v is not None else "null"}, "api") for v in api]
        if load is None and ttfb is None and not api:
            raise _Malformed("nothing to record: send load, ttfb or api")
        route = self.page_route(page)
        # validated in full before anything is recorded: a bad beacon records nothing
        if load is not None:
            self.load[route].observe(load)
        if ttfb is not None:
            self.ttfb[route].observe(ttfb)
        for value in api or ():
            assert value is not None
            self.api[route].observe(value)

    def _too_large(self) -> Response:
        return self._refuse("too_large", 413, f"the body is limited to {self.config.max_body} B")

    def _refuse(
        self, result: str, status: int, why: str, headers: list[tuple[str, str]] | None = None
    ) -> Response:
        self.beacons[result].inc()
        return _error(status, why, headers)

    def client_of(self, peer: str, forwarded: str) -> str:
        if self.config.trust_forwarded and forwarded:
            return forwarded.split(",")[0].strip()[:64]
        return peer


def _error(status: int, why: str, headers: list[tuple[str, str]] | None = None) -> Response:
    body = orjson.dumps({"error": why})
    return status, [("content-type", "application/json"), *(headers or [])], body


# -- adapters ------------------------------------------------------------------------
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def _asgi_header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers") or ():
        if key == name:
            return bytes(value).decode("latin-1")
    return ""


async def serve_asgi(endpoint: RUMEndpoint, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer a request to the script or beacon path of an ASGI app."""
    method = scope.get("method", "GET")
    try:
        if scope.get("path") == endpoint.config.script_path:
            status, headers, body = endpoint.serve_script(method)
        else:
            client = scope.get("client") or ("", 0)
            peer = endpoint.client_of(str(client[0]), _asgi_header(scope, b"x-forwarded-for"))
            early = endpoint.precheck(
                method, _asgi_header(scope, b"content-type"),
                _asgi_header(scope, b"content-length"), peer,
            )  # fmt: skip
            if early is not None:
                status, headers, body = early
            else:
                status, headers, body = endpoint.accept(await _read_body(endpoint, receive))
    except Exception as exc:
        faults.report("rum", exc, endpoint.registry)
        status, headers, body = _error(500, "rum unavailable")
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})


async def _read_body(endpoint: RUMEndpoint, receive: Receive) -> bytes:
    """The body, or its first max_body + 1 bytes (enough to know it is too large)."""
    limit = endpoint.config.max_body
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message.get("type") != "http.request":
            break
        chunk = message.get("body") or b""
        chunks.append(chunk)
        size += len(chunk)
        if size > limit or not message.get("more_body"):
            break
    return b"".join(chunks)


def serve_wsgi(endpoint: RUMEndpoint, environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """Answer a request to the script or beacon path of a WSGI app."""
    method = environ.get("REQUEST_METHOD", "GET")
    try:
        if environ.get("PATH_INFO") == endpoint.config.script_path:
            status, headers, body = endpoint.serve_script(method)
        else:
            peer = endpoint.client_of(
                str(environ.get("REMOTE_ADDR", "")), environ.get("HTTP_X_FORWARDED_FOR", "")
            )
            length = environ.get("CONTENT_LENGTH", "") or ""
            early = endpoint.precheck(method, environ.get("CONTENT_TYPE", ""), length, peer)
            if early is not None:
                status, headers, body = early
            else:
                # WSGI servers give no end-of-body signal without a length: read only what
                # was announced, and never more than the limit + 1.
                stream = environ.get("wsgi.input")
                want = min(int(length or 0), endpoint.config.max_body + 1)
                data = stream.read(want) if stream is not None and want else b""
                status, headers, body = endpoint.accept(data)
    except Exception as exc:
        faults.report("rum", exc, endpoint.registry)
        status, headers, body = _error(500, "rum unavailable")
    start_response(f"{status} {HTTPStatus(status).phrase}", headers)
    return [b"" if method == "HEAD" else body]
