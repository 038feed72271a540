"""SQLAlchemy instrumentation against real PostgreSQL (127.0.0.1:5432, database ``test``):
sync (psycopg) and async (asyncpg) engines, operations, tables, errors, the slow-query
line — and that a bound parameter never reaches any log output."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import create_async_engine

from tests.instrument.conftest import value, values
from watchkeeper.errors import ConfigurationError
from watchkeeper.instrument.db import instrument_sqlalchemy, uninstrument_sqlalchemy
from watchkeeper.instrument.exposition import render
from watchkeeper.instrument.registry import Registry

SYNC_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ASYNC_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
DURATION = "db_client_operation_duration_seconds_count"


@pytest.fixture
def engine() -> Iterator[Engine]:
    eng = create_engine(SYNC_URL)
    # Connected once before instrumenting, so the dialect's first-connect queries
    # (server version, schema) are not among the ones a test counts.
    eng.connect().close()
    try:
        yield eng
    finally:
        uninstrument_sqlalchemy(eng)
        eng.dispose()


@pytest.fixture
def table(engine: Engine) -> Iterator[str]:
    name = f"wk_db_{uuid.uuid4().hex[:10]}"
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE {name} (id int PRIMARY KEY, note text)"))
    try:
        yield name
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP TABLE IF EXISTS {name}"))


def _count(registry: Registry, **labels: str) -> float:
    return sum(values(registry, DURATION, **labels))


def test_sync_engine_counts_operations_and_tables(
    engine: Engine, table: str, registry: Registry
) -> None:
    instrument_sqlalchemy(engine, registry=registry)
    with engine.begin() as conn:
        for i in range(3):
            conn.execute(text(f"INSERT INTO {table} (id, note) VALUES (:i, 'x')"), {"i": i})
        # executemany: one observation for the batch (semconv: a batch is one operation)
        conn.execute(text(f"INSERT INTO {table} (id) VALUES (:i)"), [{"i": 10}, {"i": 11}])
        conn.execute(text("SET LOCAL work_mem = '8MB'"))
        conn.execute(text(f"UPDATE {table} SET note = 'y' WHERE id = :i"), {"i": 1})
        conn.execute(text(f"SELECT * FROM {table}")).all()
        conn.execute(text(f"DELETE FROM {table} WHERE id = 0"))
        conn.execute(text("SELECT 1"))
    base = {"db_system_name": "postgresql", "db_namespace": "test"}
    assert value(registry, DURATION, **base, db_operation_name="insert",
                 db_collection_name=table) == 4  # fmt: skip
    assert value(registry, DURATION, **base, db_operation_name="other") == 1
    assert value(registry, DURATION, **base, db_operation_name="update",
                 db_collection_name=table) == 1  # fmt: skip
    assert value(registry, DURATION, **base, db_operation_name="select",
                 db_collection_name=table) == 1  # fmt: skip
    assert value(registry, DURATION, **base, db_operation_name="delete",
                 db_collection_name=table) == 1  # fmt: skip
    # SELECT 1 names no table: the label is absent (empty), not a guess.
    plain = [v for (n, labels), v in _samples(registry)
             if n == DURATION and dict(labels).get("db_operation_name") == "select"
             and "db_collection_name" not in dict(labels)]  # fmt: skip
    assert plain == [1]
    # The transaction's BEGIN/COMMIT are not statements run by SQLAlchemy: not counted.
    assert _count(registry) == 9


def _samples(registry: Registry) -> list[tuple[tuple[str, frozenset[tuple[str, str]]], float]]:
    from tests.instrument.conftest import parse

    return list(parse(render(registry)).items())


def test_errors_are_labelled_by_sqlstate(engine: Engine, registry: Registry) -> None:
    instrument_sqlalchemy(engine, registry=registry)
    with engine.connect() as conn, pytest.raises(ProgrammingError):
        conn.execute(text("SELECT * FROM wk_no_such_table"))
    assert value(registry, DURATION, db_operation_name="select",
                 db_collection_name="wk_no_such_table", error_type="42P01") == 1  # fmt: skip
    # The failed query is not also counted as a success.
    assert _count(registry, db_collection_name="wk_no_such_table") == 1


def test_async_engine_asyncpg(registry: Registry) -> None:
    async def run() -> None:
        aengine = create_async_engine(ASYNC_URL)
        try:
            await (await aengine.connect()).close()  # first-connect queries, uncounted
            handle = instrument_sqlalchemy(aengine, registry=registry)
            assert instrument_sqlalchemy(aengine, registry=registry) is handle
            async with aengine.connect() as conn:
                await conn.execute(text("SELECT 1"))
                await conn.execute(text("SELECT relname FROM pg_class LIMIT 1"))
                with pytest.raises(ProgrammingError):
                    await conn.execute(text("SELECT * FROM wk_no_such_table"))
        finally:
            await aengine.dispose()

    asyncio.run(run())
    assert value(registry, DURATION, db_operation_name="select", db_collection_name="pg_class") == 1
    # asyncpg reports the same SQLSTATE as psycopg: one label value across drivers.
    assert value(registry, DURATION, error_type="42P01") == 1
    assert _count(registry, db_operation_name="select") == 3


def test_instrumenting_twice_counts_once(engine: Engine, registry: Registry) -> None:
    first = instrument_sqlalchemy(engine, registry=registry)
    assert instrument_sqlalchemy(engine, registry=registry) is first
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    assert _count(registry) == 1
    uninstrument_sqlalchemy(engine)
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    assert _count(registry) == 1


def test_slow_query_line_truncates_and_never_logs_parameters(
    engine: Engine, registry: Registry, caplog: pytest.LogCaptureFixture, capfd: Any
) -> None:
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    # Everything watchkeeper logs at any level, and every other logger's warnings.
    caplog.set_level(logging.DEBUG, logger="watchkeeper")
    instrument_sqlalchemy(
        engine, registry=registry, slow_query_threshold=0.05, statement_max_chars=60
    )
    padding = ", ".join(f"'{i}' AS c{i}" for i in range(40))
    with engine.connect() as conn:
        conn.execute(
            text(f"SELECT pg_sleep(0.1), CAST(:password AS text) AS p, {padding}"),
            {"password": secret},
        )
        conn.execute(text("SELECT CAST(:password AS text)"), {"password": secret})  # fast
        # A failing slow query is logged too: cancelled by statement_timeout, after
        # 0.15 s (more than the log's 0.1 s rate limit after the first line).
        conn.execute(text("SET statement_timeout = '150ms'"))
        with pytest.raises(OperationalError):
            conn.execute(text("SELECT pg_sleep(5), CAST(:password AS text)"), {"password": secret})
        conn.rollback()
    slow = [r for r in caplog.records if r.name == "watchkeeper.db"]
    assert len(slow) == 2
    assert vars(slow[1])["error_type"] == "57014"  # query_canceled
    assert "SELECT pg_sleep(5), CAST(%(password)s AS text)" in slow[1].getMessage()
    line = slow[0].getMessage()
    assert line.startswith("slow query: ")
    assert "threshold 0.050 s" in line
    assert "SELECT pg_sleep(0.1), CAST(%(password)s AS text)" in line
    assert line.endswith("...")
    assert "c39" not in line
    assert slow[0].levelno == logging.WARNING
    assert vars(slow[0])["db_operation_name"] == "select"
    everything = caplog.text + "".join(
        str(v) for r in caplog.records for v in vars(r).values()
    ) + "".join(capfd.readouterr())  # fmt: skip
    assert secret not in everything


def test_slow_log_can_be_turned_off(
    engine: Engine, registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="watchkeeper")
    instrument_sqlalchemy(engine, registry=registry, slow_query_threshold=None)
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_sleep(0.02)"))
    assert not [r for r in caplog.records if r.name == "watchkeeper.db"]
    assert _count(registry) == 1


def test_tables_are_bounded(engine: Engine, registry: Registry) -> None:
    instrument_sqlalchemy(engine, registry=registry, max_tables=2)
    with engine.connect() as conn:
        for rel in ("pg_class", "pg_type", "pg_proc", "pg_namespace"):
            conn.execute(text(f"SELECT 1 FROM {rel} LIMIT 1"))
    tables = {dict(labels).get("db_collection_name") for (n, labels), _ in _samples(registry)
              if n == DURATION}  # fmt: skip
    assert tables == {"pg_class", "pg_type", "_other"}
    assert value(registry, DURATION, db_collection_name="_other") == 2


def test_a_fault_in_the_hooks_never_reaches_the_app(
    engine: Engine, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    handle = instrument_sqlalchemy(engine, registry=registry)

    def broken(*args: object) -> None:
        raise RuntimeError("bug in watchkeeper")

    monkeypatch.setattr(handle, "_child", broken)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 41 + 1")).scalar() == 42
    assert value(registry, "watchkeeper_internal_errors_total", component="db.sqlalchemy") >= 1


def test_bad_arguments_say_what_to_do(engine: Engine) -> None:
    with pytest.raises(ConfigurationError, match="takes a SQLAlchemy Engine or AsyncEngine"):
        instrument_sqlalchemy("postgresql://localhost/db")
    with pytest.raises(ConfigurationError, match="slow_query_threshold=-1"):
        instrument_sqlalchemy(engine, slow_query_threshold=-1)
