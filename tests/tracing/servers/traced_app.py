"""A traced FastAPI service for real uvicorn processes.

Configured the way a user would: ``OTEL_SERVICE_NAME``, ``OTEL_EXPORTER_OTLP_ENDPOINT``
(the test's receiver) and ``watchkeeper.tracing.configure()`` before ``instrument()``.
``DOWNSTREAM_URL``: where ``/call`` sends its request (service A calls service B).
"""

from __future__ import annotations

import logging
import os
from typing import Any

import httpx
from fastapi import FastAPI

import watchkeeper
from watchkeeper import logs, tracing

logs.configure(level="INFO", format="json", file=os.environ["LOG_FILE"])
tracing.configure(exporter="otlp")
log = logging.getLogger("traced_app")
app = FastAPI()


@app.get("/hello")
async def hello() -> dict[str, str]:
    with watchkeeper.span("data_validation"):
        log.info("hello handled")
    return {"service": os.environ.get("OTEL_SERVICE_NAME", "")}


@app.get("/call")
async def call() -> dict[str, Any]:
    log.info("calling downstream")
    async with httpx.AsyncClient(event_hooks=tracing.async_httpx_hooks()) as client:
        response = await client.get(os.environ["DOWNSTREAM_URL"], timeout=10)
    return {"downstream": response.json()}


app = watchkeeper.instrument(app)
