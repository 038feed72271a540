"""A FastAPI app with the live-profiling endpoint, served by real uvicorn in the tests."""

from __future__ import annotations

import os
import time

from fastapi import FastAPI

import watchkeeper

app = FastAPI()


def crunch_numbers(seconds: float) -> int:
    """CPU-bound work the profile must find."""
    total = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        total += sum(i * i for i in range(200))
    return total


@app.get("/crunch")
def crunch(seconds: float = 1.0) -> dict[str, int]:
    return {"total": crunch_numbers(min(seconds, 5.0))}


app = watchkeeper.instrument(
    app, service="profiled", profiling_token=os.environ["WK_TEST_PROFILING_TOKEN"]
)
