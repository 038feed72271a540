"""A FastAPI app whose checks use clients created on uvicorn's own loop at startup:
an asyncpg pool (to PostgreSQL at 127.0.0.1:$WK_PG_PORT) and a redis.asyncio client."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import redis.asyncio as redis_asyncio
from fastapi import FastAPI

import watchkeeper
from watchkeeper import health


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    port = os.environ["WK_PG_PORT"]
    pool = await asyncpg.create_pool(
        f"postgresql://postgres@127.0.0.1:{port}/test", min_size=1, max_size=2
    )
    cache = redis_asyncio.Redis.from_url("redis://127.0.0.1:6379/0")
    checks = health.of(app)
    checks.add_check(health.postgres(pool, cache=0, timeout=2))
    checks.add_check(health.redis(cache, critical=False, cache=0, timeout=2))
    yield
    await cache.aclose()
    await pool.close()


app = watchkeeper.instrument(FastAPI(lifespan=lifespan), service="health-app")
