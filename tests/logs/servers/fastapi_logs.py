"""A FastAPI app that logs from everywhere a request's code can run.

Served by a real uvicorn process; logs JSON lines to the file named by
``WK_LOG_FILE``. Every line the app writes carries the request's ``tag`` so a test
can tell which request wrote it, and check that the request id agrees.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import threading

from fastapi import BackgroundTasks, FastAPI
from starlette.concurrency import run_in_threadpool

import watchkeeper
import watchkeeper.logs

watchkeeper.logs.configure(
    level="INFO", format="json", file=os.environ["WK_LOG_FILE"], service="logs-test"
)
log = logging.getLogger("app")
app = FastAPI()


async def background_job(tag: str) -> None:
    await asyncio.sleep(0.05)  # runs after the response was sent
    log.info("background", extra={"tag": tag})


def sync_background_job(tag: str) -> None:
    log.info("sync background", extra={"tag": tag})


@app.get("/orders/{order_id}")
async def order(order_id: int, tag: str, background: BackgroundTasks) -> dict[str, int]:
    log.info("start", extra={"tag": tag})
    watchkeeper.logs.bind(user_id=order_id)
    await asyncio.sleep(0.01)
    log.info("after await", extra={"tag": tag})
    await run_in_threadpool(lambda: log.info("threadpool", extra={"tag": tag}))
    ctx = contextvars.copy_context()
    thread = threading.Thread(
        target=ctx.run, args=(lambda: log.info("thread", extra={"tag": tag}),)
    )
    thread.start()
    thread.join()
    background.add_task(background_job, tag)
    background.add_task(sync_background_job, tag)
    return {"order": order_id}


@app.get("/sync")
def sync_handler(tag: str) -> dict[str, str]:  # FastAPI runs it in its threadpool
    log.info("sync handler", extra={"tag": tag})
    return {"tag": tag}


@app.get("/boom")
async def boom() -> None:
    raise RuntimeError("kaput")


app = watchkeeper.instrument(app, service="logs-test", access_log=True)
