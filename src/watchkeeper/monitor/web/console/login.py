"""The console's login: ``/login`` (a form posting the token) and ``?token=`` once on
any page, both ending in the ``HttpOnly; SameSite=Strict`` token cookie that the
monitor's ``TokenAuthMiddleware`` accepts. Only reachable when a token is enforced;
the token itself is never rendered.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from watchkeeper.monitor.web.console.context import ConsoleContext
from watchkeeper.monitor.web.console.render import SECURITY_HEADERS, render
from watchkeeper.monitor.web.console.security import (
    CSRF_FIELD,
    CsrfError,
    csrf_token,
    read_form,
    set_csrf_cookie,
    set_token_cookie,
)

__all__ = ["login", "token_once"]

Endpoint = Callable[[Request], Awaitable[Response]]


async def login(ctx: ConsoleContext, request: Request) -> Response:
    nxt = _local(request.query_params.get("next", "/"))
    if ctx.token is None:
        return RedirectResponse(nxt, 303)
    error = ""
    if request.method == "POST":
        try:
            form = await read_form(request)
        except CsrfError as exc:
            text = f"{exc}\n"
            return Response(text, 403, headers=SECURITY_HEADERS, media_type="text/plain")
        nxt = _local(form.get("next", "/"))
        if hmac.compare_digest(form.get("token", "").encode(), ctx.token.encode()):
            redirect = RedirectResponse(nxt, 303)
            set_token_cookie(redirect, ctx.token)
            return redirect
        error = "wrong token"
    token, new = csrf_token(request)
    response = render(
        "login.html",
        401 if error else 200,
        next=nxt,
        error=error,
        csrf_field=CSRF_FIELD,
        csrf=token,
    )
    if new:
        set_csrf_cookie(response, token)
    return response


def _local(target: str) -> str:
    """Only a path on this site (no open redirect through ``next``)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def token_once(ctx: ConsoleContext, endpoint: Endpoint) -> Endpoint:
    """``?token=`` on a page (valid: the auth middleware let it through): keep it in the
    HttpOnly cookie and drop it from the URL, so it does not linger in history or links."""

    async def wrapped(request: Request) -> Response:
        given = request.query_params.get("token")
        if (
            given is not None
            and ctx.token is not None
            and hmac.compare_digest(given.encode(), ctx.token.encode())
        ):
            rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            response = RedirectResponse(
                request.url.path + ("?" + urlencode(rest) if rest else ""), 303
            )
            set_token_cookie(response, ctx.token)
            return response
        return await endpoint(request)

    return wrapped
