"""The FastAPI quickstart: one line of watchkeeper.

Run:  uvicorn examples.quickstart.fastapi_app:app --port 8000
Then: curl localhost:8000/metrics
"""

from __future__ import annotations

import asyncio
import random

from fastapi import FastAPI, HTTPException

import watchkeeper

app = FastAPI(title="orders")


@watchkeeper.measured(slow=0.5)
async def charge(order_id: int) -> bool:
    await asyncio.sleep(random.uniform(0.001, 0.02))
    return order_id % 17 != 0


@app.get("/orders/{order_id}")
async def get_order(order_id: int) -> dict[str, int | str]:
    return {"id": order_id, "status": "shipped"}


@app.post("/orders/{order_id}/pay")
async def pay(order_id: int) -> dict[str, bool]:
    if not await charge(order_id):
        raise HTTPException(status_code=402, detail="card declined")
    return {"paid": True}


@app.get("/reports/{name}")
async def report(name: str) -> dict[str, str]:
    await asyncio.sleep(random.uniform(0.2, 0.9))  # a slow endpoint
    return {"report": name}


@app.get("/flaky")
async def flaky() -> dict[str, str]:
    if random.random() < 0.3:
        raise RuntimeError("upstream timed out")
    return {"ok": "yes"}


app = watchkeeper.instrument(app, service="orders", version="1.0.0")
