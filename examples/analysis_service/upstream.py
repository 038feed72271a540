"""A local fake of the data API the analyses read their datasets from (never the internet).

    python -m examples.analysis_service.upstream --port 8101

``GET /datasets/{name}?items=N`` answers N deterministic ad rows; ``GET /health`` is
what the service's health check and the monitor's dependency probe request. Its own
fault switch (``/_faults``): ``slow`` (every answer waits ``value`` seconds) and
``down`` (every answer is a 503).
"""

from __future__ import annotations

import argparse
import asyncio
import random
from typing import Any

from fastapi import FastAPI, HTTPException, Query

from examples._shared.faults import FaultSwitch, fastapi_router

FAULTS = FaultSwitch(["slow", "down"])


def create_upstream(faults: FaultSwitch = FAULTS) -> FastAPI:
    app = FastAPI(title="data-api")
    app.include_router(fastapi_router(faults))

    async def misbehave() -> None:
        if faults.active("slow"):
            await asyncio.sleep(faults.value("slow"))
        if faults.active("down"):
            raise HTTPException(503, "data API down (fault 'down')")

    @app.get("/health")
    async def health() -> dict[str, str]:
        await misbehave()
        return {"status": "ok"}

    @app.get("/datasets/{name}")
    async def dataset(name: str, items: int = Query(100, ge=1, le=10_000)) -> dict[str, Any]:
        await misbehave()
        rng = random.Random(f"{name}:{items}")
        rows = []  # 30 days per creative; some creatives' click-through rate decays
        for creative in range((items + 29) // 30):
            decay = rng.choice((1.0, 1.0, 0.97))
            for day in range(min(30, items - 30 * creative)):
                shown = rng.randint(1_000, 50_000)
                ctr = rng.uniform(0.01, 0.03) * decay**day
                rows.append(
                    {
                        "creative_id": f"{name}-c{creative}",
                        "day": day,
                        "impressions": shown,
                        "clicks": int(shown * ctr),
                        "spend": round(rng.uniform(5, 500), 2),
                    }
                )
        return {"dataset": name, "rows": rows}

    return app


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8101)
    args = parser.parse_args(argv)
    uvicorn.run(create_upstream(), host="127.0.0.1", port=args.port, access_log=False)


if __name__ == "__main__":
    main()
