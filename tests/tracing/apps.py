"""Small apps the tracing tests drive in-process (FastAPI and Flask)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
from fastapi import FastAPI, HTTPException

import watchkeeper

log = logging.getLogger("tests.tracing.app")


def fastapi_app() -> FastAPI:
    app = FastAPI()

    @watchkeeper.traced
    def signature_calculation(data: str) -> int:
        with watchkeeper.span("fatigue_detection", size=len(data)):
            return len(data)

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, Any]:
        log.info("looking up item %s", item_id)
        with watchkeeper.span("data_validation", item_id=item_id):
            signature = signature_calculation(str(item_id))
        return {"item_id": item_id, "signature": signature}

    @app.get("/boom")
    async def boom() -> None:
        raise ValueError("the app failed")

    @app.get("/gone")
    async def gone() -> None:
        raise HTTPException(status_code=404)

    @app.get("/unavailable")
    async def unavailable() -> None:
        raise HTTPException(status_code=503)

    return app


def flask_app() -> Any:
    from flask import Flask

    app = Flask("traced_flask")

    @app.get("/things/<int:thing_id>")
    def thing(thing_id: int) -> dict[str, int]:
        with watchkeeper.span("lookup"):
            return {"thing_id": thing_id}

    return app


class Client:
    """httpx over ASGI with the app's exceptions turned into 500s, as a server would."""

    def __init__(self, app: Any, base_url: str = "http://127.0.0.1") -> None:
        self.app = app
        self.base_url = base_url

    def get(self, url: str, headers: dict[str, str] | None = None) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url=self.base_url) as c:
                return await c.get(url, headers=headers)

        return asyncio.run(send())
