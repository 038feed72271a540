"""A fake paid model API on 127.0.0.1: the verification service's upstream.

    python -m examples.verification_api.upstream --port 8001

``POST /v1/solve {"expression": "2+2"}`` answers ``{"model", "answer", "usage"}``
for a bearer key, charging one unit of a daily quota; ``GET /v1/quota`` reports
``{"limit", "used", "remaining"}``; ``GET /health`` is its status page. When the
quota is used up, /v1/solve answers 429.

Faults (``PUT /_faults/NAME[?value=V]``, ``DELETE`` to stop; examples/_shared/faults.py):

| fault | value (without ``?value=``: 1) | effect |
|---|---|---|
| ``errors`` | share of calls | /v1/solve answers 503 |
| ``auth`` | share of calls | /v1/solve answers 401, as for a revoked key |
| ``latency`` | seconds, e.g. 6 | /v1/solve answers that much later (past 10 s: timeouts) |
| ``wrong_answer`` | | the model answers one more than the right answer |
| ``quota_drain`` | units/s, e.g. 5000 | another consumer burns the quota; off tops it up again |

To take the upstream down, stop it (Ctrl-C) and start it again.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from typing import Any

from fastapi import FastAPI, Header, HTTPException
from pydantic import BaseModel

from examples._shared.faults import FaultSwitch, fastapi_router
from examples.verification_api.claims import ClaimError, evaluate, format_number

__all__ = ["MODEL", "create_upstream"]

MODEL = "fake-solver-1"
FAULTS = ("errors", "auth", "latency", "wrong_answer", "quota_drain")


class Solve(BaseModel):
    expression: str


class Quota:
    """A daily allowance: one unit per call, plus what the ``quota_drain`` fault burns."""

    def __init__(self, limit: int, faults: FaultSwitch) -> None:
        self.limit = limit
        self.calls = 0
        self.faults = faults
        self._drain_since: float | None = None

    def used(self) -> int:
        drained = 0.0
        if self.faults.active("quota_drain"):
            if self._drain_since is None:
                self._drain_since = time.monotonic()
            rate = self.faults.value("quota_drain")
            drained = rate * (time.monotonic() - self._drain_since)
        else:
            self._drain_since = None  # the fault is off: the drained units are topped up
        return min(self.limit, self.calls + int(drained))

    def status(self) -> dict[str, int]:
        used = self.used()
        return {"limit": self.limit, "used": used, "remaining": self.limit - used}


def create_upstream(api_key: str = "demo-key", quota_limit: int = 100_000) -> FastAPI:
    faults = FaultSwitch(FAULTS)
    quota = Quota(quota_limit, faults)
    app = FastAPI(title="fake model API")
    app.include_router(fastapi_router(faults))

    def hit(fault: str) -> bool:
        return faults.active(fault) and random.random() < faults.value(fault)

    def authorize(authorization: str | None) -> None:
        if authorization != f"Bearer {api_key}" or hit("auth"):
            raise HTTPException(401, "invalid API key")

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/quota")
    async def quota_status(authorization: str | None = Header(None)) -> dict[str, int]:
        authorize(authorization)
        return quota.status()

    @app.post("/v1/solve")
    async def solve(body: Solve, authorization: str | None = Header(None)) -> dict[str, Any]:
        authorize(authorization)
        if faults.active("latency"):
            await asyncio.sleep(faults.value("latency"))
        if hit("errors"):
            raise HTTPException(503, "the model is overloaded")
        if quota.used() >= quota.limit:
            raise HTTPException(429, "daily quota exhausted")
        try:
            value = evaluate(body.expression)
        except ClaimError as exc:
            raise HTTPException(400, str(exc)) from None
        quota.calls += 1
        if faults.active("wrong_answer"):
            value += 1
        return {
            "model": MODEL,
            "answer": format_number(value),
            "usage": {"input_tokens": 12 + len(body.expression), "output_tokens": 4},
        }

    return app


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--api-key", default="demo-key")
    parser.add_argument("--quota-limit", type=int, default=100_000)
    args = parser.parse_args(argv)
    app = create_upstream(args.api_key, args.quota_limit)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
