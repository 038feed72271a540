"""DNS-rebinding protection for a monitor on loopback without a token.

Without a token, being on loopback is the only thing keeping other sites out. A page
on ``evil.example`` whose DNS name is re-pointed at ``127.0.0.1`` after it loaded is
*same-origin* to the browser with whatever answers there, so it could read every
series and post silences, with the CSRF checks satisfied (its ``Origin`` is its own
host, and so is the ``Host`` it sends). What gives it away is that ``Host`` header:
it names the attacker's domain, never a loopback name. ``LoopbackHostMiddleware``
answers 421 to any request whose ``Host`` is not ``localhost``, a loopback IPv4
address or ``[::1]`` (any port), like Jupyter's and Vite's allowed-hosts checks.

A token makes the check unnecessary (the attacker's page does not have it), so the
monitor adds this middleware only when it has none.
"""

from __future__ import annotations

import ipaddress

from starlette.types import ASGIApp, Receive, Scope, Send

from watchkeeper.monitor.web.auth import send_json
from watchkeeper.monitor.web.json import dumps, error_body

__all__ = ["LoopbackHostMiddleware", "is_loopback_host"]


def _host_name(header: str) -> str:
    """The name part of a ``Host`` header value (``[::1]:9099`` -> ``::1``)."""
    value = header.strip()
    if value.startswith("["):
        end = value.find("]")
        return value[1:end] if end > 0 else value
    name, sep, port = value.rpartition(":")
    if sep and port.isdigit() and ":" not in name:
        return name
    return value


def is_loopback_host(header: str) -> bool:
    """Whether a ``Host`` header names this machine's loopback: ``localhost``,
    127.0.0.0/8 or ``::1``, with or without a port (a bare IPv6 address needs brackets)."""
    name = _host_name(header).lower()
    if name in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback and (
            ":" not in name or header.strip().startswith("[")
        )
    except ValueError:
        return False


class LoopbackHostMiddleware:
    """Refuse (421) HTTP requests whose ``Host`` is not a loopback name or address.

    A request without a ``Host`` header (HTTP/1.0 tools) passes: browsers always send
    one, and only a browser can be made to carry out a rebinding attack.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host: str | None = None
        for name, value in scope.get("headers", ()):
            if name == b"host":
                host = bytes(value).decode("latin-1")
                break
        if host is None or is_loopback_host(host):
            await self.app(scope, receive, send)
            return
        message = (
            f"refusing Host {host[:100]!r}: this monitor listens on loopback without a token "
            "and answers only requests addressed to localhost, 127.0.0.1 or [::1] (a page on "
            "another domain re-pointed at 127.0.0.1 must not read it: DNS rebinding). Open it "
            "as http://127.0.0.1:PORT/; behind a reverse proxy, have the proxy send "
            "'Host: 127.0.0.1', or start the monitor with --token"
        )
        await send_json(send, 421, dumps(error_body("misdirected_request", message)), [])
