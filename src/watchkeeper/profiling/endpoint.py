"""The live-profiling endpoint: opt-in, token-protected, bounded.

``instrument(app, profiling_token=...)`` mounts ``GET /debug/profile`` (path
configurable): it samples the whole process for ``seconds`` (default 5, at most
60) and answers the report as text, or JSON with ``format=json``; ``memory=1``
adds tracemalloc's peak and top allocations (slower while it runs); ``top``
bounds the rows. Without the exact bearer token it answers 401 and does nothing;
one profile runs at a time (409 otherwise). Nothing is mounted without a token.
"""

from __future__ import annotations

import asyncio
import hmac
import threading
from urllib.parse import parse_qs

import orjson

from watchkeeper.errors import ConfigurationError
from watchkeeper.profiling.report import ProfileReport
from watchkeeper.profiling.sampler import sample_process

__all__ = ["MIN_TOKEN_LENGTH", "ProfileEndpoint"]

MIN_TOKEN_LENGTH = 16
MAX_SECONDS = 60.0
Response = tuple[int, list[tuple[str, str]], bytes]


class _BadRequest(ValueError):
    pass


class ProfileEndpoint:
    def __init__(self, token: str, path: str = "/debug/profile", max_seconds: float = MAX_SECONDS):
        if len(token) < MIN_TOKEN_LENGTH:
            raise ConfigurationError(
                f"profiling_token must be at least {MIN_TOKEN_LENGTH} characters (it guards an "
                "endpoint that reveals your code's internals): generate one with "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
            )
        if not path.startswith("/"):
            raise ConfigurationError(f"profiling_path must start with '/', got {path!r}")
        self.path = path
        self.max_seconds = max_seconds
        self._token = f"Bearer {token}".encode()
        self._busy = threading.Lock()

    def _check(self, method: str, query: str, authorization: str) -> Response | dict[str, str]:
        if not hmac.compare_digest(authorization.encode("latin-1", "replace"), self._token):
            return _text(401, "profiling needs the bearer token set by profiling_token\n",
                         [("www-authenticate", 'Bearer realm="watchkeeper-profile"')])  # fmt: skip
        if method not in ("GET", "HEAD"):
            return _text(405, "use GET\n", [("allow", "GET")])
        try:
            return self._params(query)
        except _BadRequest as exc:
            return _text(400, f"{exc}\n")

    def _params(self, query: str) -> dict[str, str]:
        if len(query) > 256:
            raise _BadRequest("query string too long")
        raw = {k: v[-1] for k, v in parse_qs(query).items()}
        unknown = set(raw) - {"seconds", "top", "memory", "format"}
        if unknown:
            raise _BadRequest(
                f"unknown parameter(s) {sorted(unknown)}: use seconds, top, memory, format"
            )
        seconds = _number(raw, "seconds", 5.0, 0.1, self.max_seconds)
        top = _number(raw, "top", 30, 1, 200)
        memory = raw.get("memory", "0")
        fmt = raw.get("format", "text")
        if memory not in ("0", "1", "true", "false"):
            raise _BadRequest(f"memory must be 0 or 1, got {memory!r}")
        if fmt not in ("text", "json"):
            raise _BadRequest(f"format must be text or json, got {fmt!r}")
        return {"seconds": str(seconds), "top": str(int(top)), "memory": memory, "format": fmt}

    def _run(self, params: dict[str, str]) -> Response:
        if not self._busy.acquire(blocking=False):
            return _text(409, "a profile is already running; try again when it ends\n")
        try:
            report = sample_process(
                float(params["seconds"]),
                top=int(params["top"]),
                memory=params["memory"] in ("1", "true"),
                name="live process",
            )
        finally:
            self._busy.release()
        return _render(report, params["format"])

    def respond(self, method: str, query: str, authorization: str) -> Response:
        """WSGI: blocks this worker thread for the profile's duration."""
        checked = self._check(method, query, authorization)
        return self._run(checked) if isinstance(checked, dict) else checked

    async def respond_async(self, method: str, query: str, authorization: str) -> Response:
        """ASGI: samples from a thread, so the event loop goes on serving (and is sampled)."""
        checked = self._check(method, query, authorization)
        if isinstance(checked, dict):
            return await asyncio.to_thread(self._run, checked)
        return checked


def _number(raw: dict[str, str], name: str, default: float, low: float, high: float) -> float:
    text = raw.get(name)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        raise _BadRequest(f"{name} must be a number, got {text[:32]!r}") from None
    if not low <= value <= high:
        raise _BadRequest(f"{name} must be between {low:g} and {high:g}, got {value:g}")
    return value


def _text(status: int, body: str, headers: list[tuple[str, str]] | None = None) -> Response:
    return status, [("content-type", "text/plain; charset=utf-8"), *(headers or [])], body.encode()


def _render(report: ProfileReport, fmt: str) -> Response:
    if fmt == "json":
        return 200, [("content-type", "application/json")], orjson.dumps(report.fields())
    return _text(200, report.text())
