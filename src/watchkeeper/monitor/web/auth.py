"""Bearer-token authentication, as pure ASGI middleware.

The monitor listens on loopback by default; anywhere else it holds a token and
every request must present it (``Authorization: Bearer <token>`` or
``?token=<token>``, the latter for browsers and Grafana's "custom query
parameters"). ``/-/healthy`` and ``/-/ready`` stay open so orchestrator probes
work: they reveal nothing but liveness.

Browsers cannot send a bearer header, so the web console keeps the token in an
``HttpOnly; SameSite=Strict`` cookie (``TOKEN_COOKIE``, set by its ``/login`` form or
after a first ``?token=``, like Jupyter); a browser asking for a page without the
token is sent to ``/login`` instead of getting a JSON 401.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode

from starlette.types import ASGIApp, Receive, Scope, Send

from watchkeeper.monitor.web.json import dumps, error_body

__all__ = [
    "LOGIN_PATH",
    "TOKEN_COOKIE",
    "TokenAuthMiddleware",
    "send_json",
    "generate_token",
    "is_loopback",
]

TOKEN_COOKIE = "watchkeeper_token"
LOGIN_PATH = "/login"
_OPEN_PATHS = frozenset({"/-/healthy", "/-/ready", LOGIN_PATH})


def generate_token() -> str:
    return secrets.token_urlsafe(32)


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` exposes the server to this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def send_json(
    send: Send, status: int, body: bytes, headers: Iterable[tuple[bytes, bytes]]
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


class TokenAuthMiddleware:
    """Reject requests without the configured token with 401 (constant-time compare)."""

    def __init__(self, app: ASGIApp, *, token: str) -> None:
        if not token:
            raise ValueError("TokenAuthMiddleware needs a non-empty token")
        self.app = app
        self._token = token.encode()

    def _presented(self, scope: Scope) -> bytes | None:
        for name, value in scope.get("headers", ()):
            if name == b"authorization" and value[:7].lower() == b"bearer ":
                return bytes(value[7:].strip())
        query: bytes = scope.get("query_string", b"")
        for key, text in parse_qsl(query.decode("latin-1")):
            if key == "token":
                return text.encode()
        for name, value in scope.get("headers", ()):
            if name == b"cookie":
                for part in bytes(value).split(b";"):
                    cookie, _, cookie_value = part.strip().partition(b"=")
                    if cookie == TOKEN_COOKIE.encode():
                        return cookie_value.strip(b'"')
        return None

    @staticmethod
    def _wants_page(scope: Scope) -> bool:
        if scope["method"] != "GET" or scope["path"].startswith("/api/"):
            return False
        return any(name == b"accept" and b"text/html" in value for name, value in scope["headers"])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in _OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        presented = self._presented(scope)
        if presented is not None and hmac.compare_digest(presented, self._token):
            await self.app(scope, receive, send)
            return
        if self._wants_page(scope):  # a browser: the console's login form, then back here
            target = scope["path"] + (
                "?" + scope["query_string"].decode("latin-1") if scope["query_string"] else ""
            )
            location = f"{LOGIN_PATH}?{urlencode({'next': target})}".encode("latin-1")
            await send(
                {
                    "type": "http.response.start",
                    "status": 303,
                    "headers": [(b"location", location), (b"content-length", b"0")],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        message = (
            "missing or wrong token: send 'Authorization: Bearer <token>' or '?token=<token>' "
            "(the token is printed by 'watchkeeper up' or set with --token / WATCHKEEPER_TOKEN)"
        )
        await send_json(
            send,
            401,
            dumps(error_body("unauthorized", message)),
            [(b"www-authenticate", b'Bearer realm="watchkeeper"')],
        )
