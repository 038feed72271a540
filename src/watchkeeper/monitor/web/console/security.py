"""Login cookie and CSRF protection for the console's forms.

**Login** (only when the monitor enforces a token, i.e. off loopback or with
``--token``): browsers cannot send a bearer header, so like Jupyter the token is
presented once, as ``?token=`` on any page or through the ``/login`` form, and kept
in an ``HttpOnly; SameSite=Strict`` cookie that ``TokenAuthMiddleware`` accepts.
The token itself is never rendered into a page.

**CSRF**, for every state-changing console request (silence create/expire, login),
two independent checks, because on loopback without a token any web page the user
visits could otherwise post a form to ``127.0.0.1``:

1. the request must come from our own origin: ``Sec-Fetch-Site`` (when the browser
   sends it) is ``same-origin`` or ``none``, and ``Origin`` (or, without it,
   ``Referer``) names this very host; a request with neither is refused;
2. a double-submit token: the form's hidden ``csrf`` field must equal the
   ``watchkeeper_csrf`` cookie (random, ``SameSite=Strict``), compared in constant
   time. A cross-site page can neither read nor set that cookie.

``OriginCheckMiddleware`` applies check 1 (for requests that carry browser headers)
to the whole monitor, the JSON API included: a cross-site page cannot POST a
silence to ``/api/v2/silences`` either. CLI clients (``watchkeeper silence``,
``amtool``, Prometheus) send no ``Origin`` and are not affected.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import parse_qsl, urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from watchkeeper.monitor.web.auth import TOKEN_COOKIE

__all__ = [
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "TOKEN_COOKIE",
    "CsrfError",
    "OriginCheckMiddleware",
    "check_csrf",
    "read_form",
    "csrf_token",
    "same_origin",
    "set_csrf_cookie",
    "set_token_cookie",
]

CSRF_COOKIE = "watchkeeper_csrf"
CSRF_FIELD = "csrf"
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class CsrfError(Exception):
    """A state-changing request that may come from another site: refused with 403."""


def csrf_token(request: Request) -> tuple[str, bool]:
    """The browser's CSRF token and whether it is new (then set it as a cookie)."""
    current = request.cookies.get(CSRF_COOKIE, "")
    if len(current) >= 32:
        return current, False
    return secrets.token_urlsafe(32), True


def set_csrf_cookie(response: Response, token: str) -> None:
    response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", path="/")


def set_token_cookie(response: Response, token: str) -> None:
    response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict", path="/")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def same_origin(scope: Scope) -> bool | None:
    """Whether the browser says this request comes from our own origin; None when it
    sent nothing to tell (a non-browser client)."""
    site = _header(scope, b"sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    source = _header(scope, b"origin")
    if source is None:
        source = _header(scope, b"referer")
    if source is None:
        # Fetch metadata alone (same-origin/none) is enough; nothing at all: not a browser.
        return None if site is None else True
    parts = urlsplit(source)
    host = _header(scope, b"host")
    return host is not None and parts.netloc == host and parts.scheme in ("http", "https")


MAX_FORM_BYTES = 64 << 10


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form (what the console's forms post), bounded, CSRF-checked.

    Parsed here rather than with ``request.form()``: that needs python-multipart, a
    dependency for a format (multipart) the console never uses."""
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    if kind != "application/x-www-form-urlencoded":
        raise CsrfError(f"expected an urlencoded form, got content-type {kind!r}")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise CsrfError(f"form larger than {MAX_FORM_BYTES} bytes")
    values = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    check_csrf(request, values.get(CSRF_FIELD, ""))
    return values


def check_csrf(request: Request, form_token: str) -> None:
    """Both checks of the module docstring; ``CsrfError`` says which one failed."""
    origin = same_origin(request.scope)
    if origin is not True:
        raise CsrfError(
            "refused: this form must be submitted from the console's own pages "
            "(Origin/Referer missing or from another site)"
        )
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie.encode(), form_token.encode()):
        raise CsrfError(
            "refused: the form's CSRF token does not match your session; reload the page and "
            "submit again"
        )


class OriginCheckMiddleware:
    """403 for state-changing requests that a browser marks as cross-site."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in _UNSAFE and same_origin(scope) is False:
            response = Response(
                "cross-site request refused: state-changing requests must come from the "
                "console itself or from a non-browser client\n",
                status_code=403,
                media_type="text/plain",
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
