"""An instrumented Starlette app whose readiness follows a file: it is ready (and its
``/status`` page says "healthy") while the file named by $WK_READY_FILE exists, so a test
can take it out of service without stopping it."""

from __future__ import annotations

import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import watchkeeper
from watchkeeper import health


def flag() -> bool:
    return Path(os.environ["WK_READY_FILE"]).exists()


async def status(request: Request) -> JSONResponse:
    if flag():
        return JSONResponse({"status": "healthy"})
    return JSONResponse({"status": "unhealthy"}, status_code=503)


app = watchkeeper.instrument(Starlette(routes=[Route("/status", status)]), service="probe-app")
health.of(app).add_check(flag, name="flag", cache=0, timeout=2)
