"""A tiny FastAPI app served by real uvicorn/gunicorn processes in the tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.responses import StreamingResponse

import watchkeeper

app = FastAPI()


@app.get("/work/{n}")
async def work(n: int) -> dict[str, int]:
    return {"result": n * 2}


@app.get("/ticks")
async def ticks() -> StreamingResponse:
    async def forever() -> AsyncIterator[bytes]:
        for i in range(600):
            yield f"tick {i}\n".encode()
            await asyncio.sleep(0.05)

    return StreamingResponse(forever(), media_type="application/octet-stream")


app = watchkeeper.instrument(app, service="mp-fastapi")
