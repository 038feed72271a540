"""Pool gauges of instrumented engines, read from real pools at scrape time."""

from __future__ import annotations

import asyncio
import gc
from contextlib import ExitStack

from sqlalchemy import create_engine, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tests.instrument.conftest import parse, value
from watchkeeper.instrument.db import instrument_sqlalchemy, uninstrument_sqlalchemy
from watchkeeper.instrument.exposition import render
from watchkeeper.instrument.registry import Registry

SYNC_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ASYNC_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
COUNT = "db_client_connections_usage"
POOL = "pool_name"


def test_used_idle_overflow_and_max_follow_the_pool(registry: Registry) -> None:
    engine = create_engine(SYNC_URL, pool_size=2, max_overflow=1)
    try:
        handle = instrument_sqlalchemy(engine, registry=registry, pool_name="orders")
        assert handle.pool_name == "orders"
        with ExitStack() as stack:
            for _ in range(3):
                conn = stack.enter_context(engine.connect())
                conn.execute(text("SELECT 1"))
            assert value(registry, COUNT, **{POOL: "orders"},
                         state="used") == 3  # fmt: skip
            assert value(registry, COUNT, **{POOL: "orders"},
                         state="idle") == 0  # fmt: skip
            assert value(registry, "db_client_connections_overflow", **{POOL: "orders"}) == 1
            assert value(registry, "db_client_connections_max", **{POOL: "orders"}) == 3
        # Returned: the overflow connection is closed, the pool's two stay idle.
        assert value(registry, COUNT, **{POOL: "orders"}, state="used") == 0
        assert value(registry, COUNT, **{POOL: "orders"}, state="idle") == 2
        assert value(registry, "db_client_connections_overflow", **{POOL: "orders"}) == 0
    finally:
        uninstrument_sqlalchemy(engine)
        engine.dispose()
    # Uninstrumented: the pool no longer reports.
    assert not [k for k in parse(render(registry)) if k[0] == COUNT]


def test_async_pool_and_default_name_without_credentials(registry: Registry) -> None:
    async def run() -> None:
        aengine = create_async_engine(
            "postgresql+asyncpg://postgres:hunter2@127.0.0.1:5432/test", pool_size=3
        )
        try:
            handle = instrument_sqlalchemy(aengine, registry=registry)
            assert handle.pool_name == "127.0.0.1:5432/test"
            async with aengine.connect() as conn:
                await conn.execute(text("SELECT 1"))
                assert value(registry, COUNT, state="used") == 1
            assert value(registry, COUNT, state="idle") == 1
            assert "hunter2" not in render(registry)
        finally:
            uninstrument_sqlalchemy(aengine)
            await aengine.dispose()

    asyncio.run(run())


def test_two_engines_on_one_url_get_distinct_pool_names(registry: Registry) -> None:
    first, second = create_engine(SYNC_URL), create_engine(SYNC_URL)
    try:
        a = instrument_sqlalchemy(first, registry=registry)
        b = instrument_sqlalchemy(second, registry=registry)
        assert (a.pool_name, b.pool_name) == ("127.0.0.1:5432/test", "127.0.0.1:5432/test#2")
        with first.connect() as conn:
            conn.execute(text("SELECT 1"))
        assert value(registry, COUNT, **{POOL: a.pool_name}, state="idle") == 1
        assert value(registry, COUNT, **{POOL: b.pool_name}, state="idle") == 0
    finally:
        for eng in (first, second):
            uninstrument_sqlalchemy(eng)
            eng.dispose()


def test_pools_without_counts_report_nothing_and_dead_engines_drop_out(
    registry: Registry,
) -> None:
    engine = create_engine(SYNC_URL, poolclass=NullPool)
    engine.connect().close()  # the dialect's first-connect queries, before instrumenting
    instrument_sqlalchemy(engine, registry=registry)
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    assert not [k for k in parse(render(registry)) if k[0] == COUNT]
    assert value(registry, "db_client_operation_duration_seconds_count") == 1

    pooled = create_engine(SYNC_URL)
    instrument_sqlalchemy(pooled, registry=registry, pool_name="gone")
    assert [k for k in parse(render(registry)) if k[0] == COUNT]
    pooled.dispose()
    engine.dispose()
    del pooled, engine
    gc.collect()
    assert not [k for k in parse(render(registry)) if k[0] == COUNT]


def test_pool_gauges_add_up_over_live_workers_only(registry: Registry) -> None:
    engine = create_engine(SYNC_URL)
    try:
        instrument_sqlalchemy(engine, registry=registry)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        modes = {f.name: f.multiprocess_mode for f in registry.snapshot()}
    finally:
        uninstrument_sqlalchemy(engine)
        engine.dispose()
    # Under gunicorn each worker has its own pool: a dead worker's connections are gone.
    assert modes[COUNT] == "livesum"
    assert modes["db_client_connections_max"] == "livesum"
    assert modes["db_client_connections_overflow"] == "livesum"
