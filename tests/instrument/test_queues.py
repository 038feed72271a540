"""Queue depth and oldest-job age: callables, pushed values and real Redis lists
(127.0.0.1:6379, db 13, unique keys deleted afterwards)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import redis
import redis.asyncio as aredis

import watchkeeper
from tests.instrument.conftest import value, values
from watchkeeper.errors import ConfigurationError
from watchkeeper.instrument import queues
from watchkeeper.instrument.queue_redis import enqueue_time
from watchkeeper.instrument.registry import Registry

DB = 13
DEPTH = "queue_depth"
AGE = "queue_oldest_age_seconds"


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    with redis.Redis(host="127.0.0.1", port=6379, db=DB) as c:
        yield c


@pytest.fixture
def key(client: redis.Redis) -> Iterator[str]:
    name = f"wk:test:queue:{uuid.uuid4().hex[:8]}"
    yield name
    client.delete(name, name + ":ts")


def _job(enqueued_at: float | str, **extra: object) -> str:
    return json.dumps({"enqueued_at": enqueued_at, **extra})


def test_callable_queue(registry: Registry) -> None:
    backlog = [1, 2, 3]
    watchkeeper.queues.track(
        "reports", depth=lambda: len(backlog), oldest_age=lambda: 12.5, ttl=0, registry=registry
    )
    assert value(registry, DEPTH, queue="reports") == 3
    assert value(registry, AGE, queue="reports") == 12.5
    backlog.clear()
    assert value(registry, DEPTH, queue="reports") == 0


def test_pushed_values(registry: Registry) -> None:
    queues.set_depth("uploads", 12, oldest_age=3.5, registry=registry)
    queues.set_depth("thumbnails", 4, registry=registry)
    assert value(registry, DEPTH, queue="uploads") == 12
    assert value(registry, AGE, queue="uploads") == 3.5
    assert value(registry, DEPTH, queue="thumbnails") == 4
    assert not values(registry, AGE, queue="thumbnails")  # unknown, not 0
    # Workers of one service see the same queue: they combine by max, not sum.
    modes = {f.name: f.multiprocess_mode for f in registry.snapshot()}
    assert modes[DEPTH] == modes[AGE] == "livemax"
    queues.untrack("uploads", registry=registry)
    assert not values(registry, DEPTH, queue="uploads")


def test_redis_list_lpush_brpop_layout(client: redis.Redis, key: str, registry: Registry) -> None:
    queues.track_redis_list(client, key, queue="email", ttl=0, registry=registry)
    assert value(registry, DEPTH, queue="email") == 0
    assert value(registry, AGE, queue="email") == 0  # empty: nothing waits
    now = time.time()
    client.lpush(key, _job(now - 120, to="a@example.com"))  # oldest, ends at the tail
    client.lpush(key, _job(now - 5))
    client.lpush(key, _job(now))
    assert value(registry, DEPTH, queue="email") == 3
    assert 119 <= value(registry, AGE, queue="email") < 600
    client.rpop(key)  # the consumer takes the oldest
    assert value(registry, DEPTH, queue="email") == 2
    assert 4 <= value(registry, AGE, queue="email") < 119


def test_redis_list_head_layout_with_iso_timestamps(
    client: redis.Redis, key: str, registry: Registry
) -> None:
    queues.track_redis_list(client, key, oldest="head", timestamp_field="ts", ttl=0,
                            registry=registry)  # fmt: skip
    old = datetime.fromtimestamp(time.time() - 300, tz=UTC).isoformat()
    client.rpush(key, json.dumps({"ts": old}), json.dumps({"ts": datetime.now(UTC).isoformat()}))
    assert value(registry, DEPTH, queue=key) == 2  # the queue is named after its key
    assert 299 <= value(registry, AGE, queue=key) < 900


def test_redis_list_with_a_timestamp_zset(
    client: redis.Redis, key: str, registry: Registry
) -> None:
    queues.track_redis_list(client, key, queue="q", timestamps_zset=key + ":ts", ttl=0,
                            registry=registry)  # fmt: skip
    now = time.time()
    client.lpush(key, "job-1", "job-2")  # opaque items: the zset holds the times
    client.zadd(key + ":ts", {"job-1": now - 60, "job-2": now - 1})
    assert value(registry, DEPTH, queue="q") == 2
    assert 59 <= value(registry, AGE, queue="q") < 600


def test_items_without_a_timestamp_give_depth_but_no_age(
    client: redis.Redis, key: str, registry: Registry
) -> None:
    queues.track_redis_list(client, key, queue="q", ttl=0, registry=registry)
    client.lpush(key, "not json")
    assert value(registry, DEPTH, queue="q") == 1
    assert not values(registry, AGE, queue="q")


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        (b'{"enqueued_at": 100}', 100.0),
        ('{"enqueued_at": 1.5}', 1.5),
        ('{"enqueued_at": "1970-01-01T00:01:40+00:00"}', 100.0),
        ('{"enqueued_at": "1970-01-01T00:01:40"}', None),  # no zone: ambiguous
        ('{"enqueued_at": true}', None),
        ('{"other": 1}', None),
        ("[1, 2]", None),
        ("{broken", None),
        (None, None),
        ('{"enqueued_at": 1, "pad": "' + "x" * 70_000 + '"}', None),  # too big to parse
    ],
)
def test_enqueue_time(item: bytes | str | None, expected: float | None) -> None:
    assert enqueue_time(item, "enqueued_at") == expected


def test_queue_names_are_bounded(registry: Registry) -> None:
    for i in range(queues.MAX_QUEUES):
        queues.set_depth(f"q{i}", i, registry=registry)
    with pytest.raises(ConfigurationError, match="keeps queue_depth's series bounded"):
        queues.track("one-too-many", depth=lambda: 1, registry=registry)
    queues.set_depth("dropped", 1, registry=registry)  # contained, counted
    assert not values(registry, DEPTH, queue="dropped")
    assert value(registry, "watchkeeper_internal_errors_total", component="queues.set_depth") == 1
    queues.set_depth("q0", 5, registry=registry)  # known names still update
    assert value(registry, DEPTH, queue="q0") == 5


def test_bad_arguments_say_what_to_do(registry: Registry) -> None:
    async def depth() -> int:
        return 1

    with pytest.raises(ConfigurationError, match="plain callable"):
        queues.track("a", depth=depth, registry=registry)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="queue name must be"):
        queues.track("", depth=lambda: 1, registry=registry)
    with pytest.raises(ConfigurationError, match="timeout must be > 0"):
        queues.track("a", depth=lambda: 1, timeout=0, registry=registry)
    with (
        redis.Redis(host="127.0.0.1", port=6379, db=DB) as sync_client,
        pytest.raises(ConfigurationError, match="oldest must be 'tail'"),
    ):
        queues.track_redis_list(sync_client, "k", oldest="left", registry=registry)
    async_client = aredis.Redis(host="127.0.0.1", port=6379, db=DB)
    with pytest.raises(ConfigurationError, match=r"pass a sync redis\.Redis"):
        queues.track_redis_list(async_client, "k", registry=registry)
    asyncio.run(async_client.aclose())
    with pytest.raises(ConfigurationError, match=r"client must be a redis\.Redis"):
        queues.track_redis_list(object(), "k", registry=registry)
