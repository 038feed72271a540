"""The shop example's own logic, fast, against the local PostgreSQL and Redis db 11."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis
from examples.shop_app.app import DATABASE_URL, FAULT_NAMES, RedisFaultSwitch, setup_database
from sqlalchemy import create_engine, text


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    r = redis.Redis(host="127.0.0.1", port=6379, db=11)  # the shop's own database
    yield r
    r.close()


def test_a_fault_set_in_one_worker_is_seen_by_the_other(client: redis.Redis) -> None:
    key = f"shop:test-faults:{uuid.uuid4().hex}"
    one, other = (
        RedisFaultSwitch(FAULT_NAMES, client, key),
        RedisFaultSwitch(FAULT_NAMES, client, key),
    )
    try:
        assert not other.active("slow_queries")
        one.set("slow_queries", 1.2)
        other._read_at = 0.0  # its 0.2 s read cache expired
        assert other.active("slow_queries")
        assert other.value("slow_queries") == 1.2
        assert other.snapshot()["active"] == {"slow_queries": 1.2}
        with pytest.raises(KeyError, match="unknown fault 'slow'"):
            one.set("slow")
        other.clear("slow_queries")
        assert one.snapshot()["active"] == {}
    finally:
        client.delete(key)


def test_database_setup_is_idempotent() -> None:
    setup_database(DATABASE_URL)
    setup_database(DATABASE_URL)  # a second start changes nothing
    engine = create_engine(DATABASE_URL)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM products")).scalar() == 20
    finally:
        engine.dispose()
