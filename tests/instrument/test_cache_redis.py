"""The redis-py wrapper and the INFO collector against real Redis (127.0.0.1:6379, db 13;
every key a test creates carries a unique prefix and is deleted afterwards)."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Iterator

import pytest
import redis
import redis.asyncio as aredis

from tests.instrument.conftest import value, values
from watchkeeper.errors import ConfigurationError
from watchkeeper.instrument import cache
from watchkeeper.instrument.registry import Registry

DB = 13
HITS = "cache_requests_total"
LATENCY = "cache_operation_duration_seconds_count"


@pytest.fixture
def prefix() -> Iterator[str]:
    pfx = f"wk:test:{uuid.uuid4().hex[:8]}:"
    yield pfx
    with redis.Redis(host="127.0.0.1", port=6379, db=DB) as admin:
        keys = list(admin.scan_iter(match=pfx + "*"))
        if keys:
            admin.delete(*keys)


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    with redis.Redis(host="127.0.0.1", port=6379, db=DB) as c:
        yield c


def test_sync_reads_count_hits_and_misses(
    client: redis.Redis, prefix: str, registry: Registry
) -> None:
    wrapped = cache.instrument_redis(client, cache="sessions", registry=registry)
    assert wrapped is client
    client.set(prefix + "a", "1")
    client.hset(prefix + "h", mapping={"f": "v"})
    assert client.get(prefix + "a") == b"1"  # hit
    assert client.get(prefix + "missing") is None  # miss
    assert client.mget([prefix + "a", prefix + "b", prefix + "c"]) == [b"1", None, None]
    assert client.hget(prefix + "h", "f") == b"v"  # hit
    assert client.hmget(prefix + "h", ["f", "g"]) == [b"v", None]  # hit + miss
    assert client.hgetall(prefix + "h") == {b"f": b"v"}  # hit
    assert client.hgetall(prefix + "none") == {}  # miss
    assert client.exists(prefix + "a", prefix + "zz") == 1  # not a lookup: uncounted
    assert client.getdel(prefix + "a") == b"1"  # hit
    assert value(registry, HITS, cache="sessions", result="hit") == 6
    assert value(registry, HITS, cache="sessions", result="miss") == 5
    assert value(registry, LATENCY, cache="sessions", operation="get") == 2
    assert value(registry, LATENCY, cache="sessions", operation="mget") == 1
    assert value(registry, LATENCY, cache="sessions", operation="set") == 1
    assert value(registry, LATENCY, cache="sessions", operation="exists") == 1


def test_errors_are_timed_by_type_and_still_raised(
    client: redis.Redis, prefix: str, registry: Registry
) -> None:
    cache.instrument_redis(client, cache="c", registry=registry)
    client.rpush(prefix + "list", "x")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        client.get(prefix + "list")
    assert value(registry, LATENCY, operation="get", error_type="ResponseError") == 1
    # A failed read is neither a hit nor a miss.
    assert sum(values(registry, HITS, cache="c")) == 0


def test_instrumenting_twice_counts_once(
    client: redis.Redis, prefix: str, registry: Registry
) -> None:
    cache.instrument_redis(client, cache="x", registry=registry)
    cache.instrument_redis(client, cache="x", registry=registry)
    client.get(prefix + "nothing")
    assert value(registry, HITS, cache="x", result="miss") == 1


def test_async_client(prefix: str, registry: Registry) -> None:
    async def run() -> None:
        client = aredis.Redis(host="127.0.0.1", port=6379, db=DB)
        try:
            cache.instrument_redis(client, cache="pages", registry=registry)
            await client.set(prefix + "p", "html", ex=60)
            assert await client.get(prefix + "p") == b"html"
            assert await client.get(prefix + "q") is None
            assert await client.mget(prefix + "p", prefix + "q") == [b"html", None]
        finally:
            await client.aclose()

    asyncio.run(run())
    assert value(registry, HITS, cache="pages", result="hit") == 2
    assert value(registry, HITS, cache="pages", result="miss") == 2
    assert value(registry, LATENCY, cache="pages", operation="set") == 1


def test_server_stats_use_redis_exporter_names(
    client: redis.Redis, prefix: str, registry: Registry
) -> None:
    cache.redis_server_stats(client, dependency="sessions-redis", ttl=0, registry=registry)
    labels = {"dependency": "sessions-redis"}
    assert value(registry, "redis_up", **labels) == 1
    before = value(registry, "redis_keyspace_misses_total", **labels)
    for i in range(3):
        client.get(f"{prefix}miss{i}")
    assert value(registry, "redis_keyspace_misses_total", **labels) >= before + 3
    assert value(registry, "redis_connected_clients", **labels) >= 1
    assert value(registry, "redis_memory_used_bytes", **labels) > 0
    assert values(registry, "redis_keyspace_hits_total", **labels)
    assert values(registry, "redis_evicted_keys_total", **labels)
    # Every worker reads the same server: combined by max, never summed.
    modes = {
        f.name: f.multiprocess_mode for f in registry.snapshot() if f.name.startswith("redis_")
    }
    assert set(modes.values()) == {"livemax"}
    assert len(modes) == 7


def test_server_stats_report_down_when_unreachable(registry: Registry) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1) as dead:
        cache.redis_server_stats(dead, dependency="gone", registry=registry)
        assert value(registry, "redis_up", dependency="gone") == 0
        assert not values(registry, "redis_connected_clients", dependency="gone")
        assert value(registry, "watchkeeper_internal_errors_total",
                     component="redis_stats:gone") >= 1  # fmt: skip


def test_wrong_clients_are_refused_with_the_fix() -> None:
    with pytest.raises(ConfigurationError, match=r"takes a redis\.Redis"):
        cache.instrument_redis(object())
    client = aredis.Redis(host="127.0.0.1", port=6379, db=DB)
    with pytest.raises(ConfigurationError, match=r"redis.Redis.from_url"):
        cache.redis_server_stats(client)
    asyncio.run(client.aclose())


def test_a_fault_in_the_wrapper_never_reaches_the_app(
    client: redis.Redis, prefix: str, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache.instrument_redis(client, cache="c", registry=registry)
    meter = vars(client)["_watchkeeper_cache"]

    def broken(*args: object) -> None:
        raise RuntimeError("bug in watchkeeper")

    monkeypatch.setattr(meter, "_count", broken)
    client.set(prefix + "k", "v")
    assert client.get(prefix + "k") == b"v"
    assert value(registry, "watchkeeper_internal_errors_total", component="cache.redis") >= 1
