"""An instrumented Starlette app whose readiness follows a file: it is ready while the file
named by $WK_READY_FILE exists, so a test can take it out of service without stopping it."""

from __future__ import annotations

import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import watchkeeper
from watchkeeper import health


async def status(request: Request) -> JSONResponse:
    return JSONResponse({"status": "healthy"})


def flag() -> bool:
    return Path(os.environ["WK_READY_FILE"]).exists()


app = watchkeeper.instrument(Starlette(routes=[Route("/status", status)]), service="probe-app")
health.of(app).add_check(flag, name="flag", cache=0, timeout=2)
