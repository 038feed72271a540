"""A Starlette shop with real-user monitoring on, served by uvicorn in the RUM tests.

Pages ``/`` and ``/products/{id}`` are allow-listed; each page loads the snippet and
calls the app's own API once. ``trust_forwarded`` lets the tests act as many clients
(X-Forwarded-For) against one server; each client may send ``burst`` beacons.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

import watchkeeper
from watchkeeper.instrument.rum import RUM

BURST = 5
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>shop</title>
<script src="/_watchkeeper/rum.js" defer></script></head>
<body><h1>A product</h1>
<script>
fetch("/api/items/7").then(function (r) { return r.json(); })
  .then(function (d) { document.title = "item " + d.id; });
</script>
</body></html>
"""


async def page(request: Request) -> HTMLResponse:
    return HTMLResponse(PAGE)


async def item(request: Request) -> JSONResponse:
    return JSONResponse({"id": request.path_params["id"]})


app = watchkeeper.instrument(
    Starlette(
        routes=[
            Route("/", page),
            Route("/products/{id}", page),
            Route("/unlisted", page),
            Route("/api/items/{id}", item),
        ]
    ),
    service="rumshop",
    rum=RUM(pages=["/", "/products/{id}"], burst=BURST, rate=0.001, trust_forwarded=True),
)
