"""A QWED-style verification API: arithmetic claims checked by a paid model, whose
answers are themselves checked deterministically before anyone trusts them.

    POST /verify {"claim": "17*3 = 51"}  ->  {"claim", "verified": true, "answer": "51"}

Everything the guide (seeds/000, "Monitoring QWED in Production") hand-writes with
statsd and print-style logging is a watchkeeper call here:

- success rate and failure reasons: ``watchkeeper.outcome("verification", ...)``;
- p50/p95/p99 and the slow-query warning: ``instrument()`` (per route) and
  ``@measured(slow=5)``;
- quota gauges refreshed from the upstream's quota endpoint: ``watchkeeper.quota``;
- error types (timeout, auth, validation, network, ...): ``watchkeeper.llm.request``
  labels each failed upstream call with its ``error_type``, and the outcome with its reason;
- the "2+2=4" canary: ``health.canary`` (not critical: a wrong answer is *degraded*)
  next to ``health.http`` on the upstream (critical: unreachable is *unhealthy*);
- structured JSON logs with request ids: ``watchkeeper.logs``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel

import watchkeeper
from examples.verification_api.claims import ClaimError, evaluate, parse_claim
from watchkeeper import Registry, health

__all__ = ["REASONS", "Upstream", "Verdict", "create_app"]

SERVICE = "verification-api"
MODEL = "fake-solver-1"
# Every way a verification can fail, and the HTTP status the client then gets.
REASONS = {
    "validation": 422,  # the claim is not arithmetic: the caller's mistake
    "llm_mismatch": 200,  # the model's answer failed the deterministic check: not verified
    "timeout": 504,
    "auth": 502,  # our key was refused: our problem, not the caller's
    "network": 502,
    "server_error": 502,
    "quota_exhausted": 503,
}
_STATUS_REASONS = {
    401: "auth",
    403: "auth",
    400: "validation",
    422: "validation",
    429: "quota_exhausted",
}
log = logging.getLogger("verification_api")


class VerificationError(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass
class Verdict:
    claim: str
    verified: bool
    answer: str | None = None
    reason: str | None = None  # why it could not be verified
    detail: str | None = None


class Upstream:
    """The paid model API: every call timed, priced and typed by ``watchkeeper.llm``."""

    def __init__(
        self, base_url: str, api_key: str, timeout: float, registry: Registry | None = None
    ) -> None:
        self.base_url = base_url
        self.registry = registry
        self.headers = {"authorization": f"Bearer {api_key}"}
        self.api_key = api_key
        self.client = httpx.AsyncClient(base_url=base_url, headers=self.headers, timeout=timeout)

    async def solve(self, expression: str) -> str:
        call = watchkeeper.llm.request(MODEL, api_key=self.api_key, registry=self.registry)
        async with call:
            try:
                response = await self.client.post("/v1/solve", json={"expression": expression})
                if response.status_code >= 400:
                    reason = _STATUS_REASONS.get(response.status_code, "server_error")
                    raise VerificationError(
                        reason, f"upstream: HTTP {response.status_code} {response.text[:200]}"
                    )
                body = response.json()
            except httpx.TimeoutException as exc:
                call.error = "timeout"
                raise VerificationError("timeout", f"no answer from {self.base_url}") from exc
            except httpx.TransportError as exc:
                call.error = "network"
                raise VerificationError("network", f"{self.base_url}: {exc!r}") from exc
            except VerificationError as exc:
                call.error = exc.reason
                raise
            call.usage(body["usage"]["input_tokens"], body["usage"]["output_tokens"])
            return str(body["answer"])

    def quota_status(self) -> Any:
        """The quota endpoint's {"limit", "used", "remaining"}: watchkeeper.quota's refresh."""
        response = httpx.get(f"{self.base_url}/v1/quota", headers=self.headers, timeout=2)
        return response.raise_for_status().json()


class Claim(BaseModel):
    claim: str


def create_app(
    upstream_url: str = "http://127.0.0.1:8001",
    *,
    api_key: str = "demo-key",
    timeout: float = 10.0,
    slow: float = 5.0,
    canary_every: float = 30.0,
    quota_every: float = 30.0,
) -> FastAPI:
    """The service. ``canary_every`` / ``quota_every``: seconds between paid canary and
    quota calls (results are reused in between); ``slow``: the slow-query warning."""
    watchkeeper.llm.configure(prices={MODEL: (0.15, 0.60)})  # USD per 1M tokens
    watchkeeper.declare_outcomes("verification", reasons=list(REASONS))
    upstream = Upstream(upstream_url, api_key, timeout)
    watchkeeper.quota("qwed-api", refresh=upstream.quota_status, max_age=quota_every)

    @watchkeeper.measured(name="verify", slow=slow)
    async def verify(claim: str) -> Verdict:
        try:
            expression, claimed = parse_claim(claim)
            answer = await upstream.solve(expression)
            if evaluate(answer) != evaluate(expression):
                raise VerificationError("llm_mismatch", f"the model said {expression} = {answer}")
        except (VerificationError, ClaimError) as exc:
            reason = exc.reason if isinstance(exc, VerificationError) else "validation"
            watchkeeper.outcome("verification", ok=False, reason=reason)
            return Verdict(claim, False, reason=reason, detail=str(exc))
        watchkeeper.outcome("verification", ok=True)
        return Verdict(claim, evaluate(answer) == claimed, answer)

    async def canary() -> None:
        verdict = await verify("2+2=4")
        if not verdict.verified:
            raise AssertionError(f"2+2=4 not verified: {verdict.reason}: {verdict.detail}")

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await upstream.client.aclose()

    app = FastAPI(title=SERVICE, lifespan=lifespan)

    @app.post("/verify")
    async def verify_claim(body: Claim) -> JSONResponse:
        verdict = await verify(body.claim)
        log.info(
            "verification",
            extra={
                "claim": body.claim[:100],
                "verified": verdict.verified,
                "reason": verdict.reason,
            },
        )
        status = REASONS[verdict.reason] if verdict.reason else 200
        return JSONResponse(verdict.__dict__, status_code=status)

    return watchkeeper.instrument(
        app,
        service=SERVICE,
        access_log=True,
        checks=[
            health.http(f"{upstream_url}/health", name="upstream"),
            health.canary(canary, name="canary", critical=False, timeout=5.0,
                          cache=canary_every),
        ],
    )  # fmt: skip
