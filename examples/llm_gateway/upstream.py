"""A local fake of the OpenAI chat completions API, for the gateway (never the internet).

    python -m examples.llm_gateway.upstream --port 8301

``POST /v1/chat/completions`` answers like OpenAI: the model that answered (the asked
model with a version suffix, as OpenAI does), a one-line reply and ``usage``. Token
counts follow the prompt (about one token per four characters) and ``max_tokens``.

Faults (``/_faults`` on this process): ``errors`` (that share of requests, all without a
value, answer 500 like an overloaded provider) and ``expensive`` (a runaway generation:
every reply bills ``value`` output tokens, 200,000 without a value).
"""

from __future__ import annotations

import argparse
import random
import time
from typing import Any

import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from examples._shared.faults import FaultSwitch, fastapi_router

__all__ = ["FAULTS", "RUNAWAY_TOKENS", "create_upstream"]

FAULTS = FaultSwitch(["errors", "expensive"])
RUNAWAY_TOKENS = 200_000
VERSIONS = {"gpt-4o-mini": "gpt-4o-mini-2024-07-18", "gpt-4o": "gpt-4o-2024-08-06"}


def create_upstream(faults: FaultSwitch = FAULTS) -> FastAPI:
    app = FastAPI(title="fake LLM provider")
    app.include_router(fastapi_router(faults))

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/chat/completions")
    async def complete(body: dict[str, Any]) -> JSONResponse:
        if faults.active("errors") and random.random() < faults.value("errors"):
            error = {"message": "the model is overloaded (fault)", "type": "server_error"}
            return JSONResponse({"error": error}, status_code=500)
        model = str(body.get("model", "gpt-4o-mini"))
        prompt = " ".join(str(m.get("content", "")) for m in body.get("messages", []))
        output = min(int(body.get("max_tokens") or 64), 64)
        if faults.active("expensive"):
            output = int(faults.value("expensive", RUNAWAY_TOKENS))
            output = RUNAWAY_TOKENS if output == 1 else output
        usage = {"prompt_tokens": 8 + len(prompt) // 4, "completion_tokens": output}
        usage["total_tokens"] = usage["prompt_tokens"] + output
        reply = {
            "id": f"chatcmpl-{random.getrandbits(48):x}", "object": "chat.completion",
            "created": int(time.time()), "model": VERSIONS.get(model, model),
            "choices": [{"index": 0, "finish_reason": "stop", "message": {
                "role": "assistant", "content": f"Done: {prompt[:40]}"}}],
            "usage": usage,
        }  # fmt: skip
        return JSONResponse(reply)

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m examples.llm_gateway.upstream")
    parser.add_argument("--port", type=int, default=8301)
    args = parser.parse_args(argv)
    uvicorn.run(create_upstream(), host="127.0.0.1", port=args.port, access_log=False)


if __name__ == "__main__":
    main()
