"""Reading a Redis list used as a job queue: its length and its oldest item's age.

The timestamp convention (documented in docs/data.md):

- the oldest item is at the list's tail (``LPUSH`` producers, ``BRPOP`` consumers,
  as Celery's Redis transport does) or, with ``oldest="head"``, at its head
  (``RPUSH`` + ``BLPOP``);
- it is a JSON object whose field ``enqueued_at`` (configurable) holds the enqueue
  time as Unix seconds (int or float) or an ISO-8601 string with a time zone;
- or, with ``zset=...``, a companion sorted set scores each waiting job by its
  enqueue time (``ZADD key <time> <job id>``, ``ZREM`` when taken): the oldest is
  the lowest score, whatever the items look like.

One round trip per read (a non-transactional pipeline). Items that are not JSON or
lack the field give a depth but no age. Only the oldest item is read, and one larger
than ``MAX_ITEM_BYTES`` is not parsed.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import orjson

from watchkeeper.errors import ConfigurationError

__all__ = ["MAX_ITEM_BYTES", "RedisListProbe", "enqueue_time"]

MAX_ITEM_BYTES = 64 * 1024


def enqueue_time(item: bytes | str | None, field: str) -> float | None:
    """The Unix time in ``item``'s JSON field ``field``, or None when it has none."""
    if item is None:
        return None
    raw = item.encode() if isinstance(item, str) else item
    if len(raw) > MAX_ITEM_BYTES or not raw.lstrip().startswith(b"{"):
        return None
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    value = doc.get(field) if isinstance(doc, dict) else None
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed.timestamp() if parsed.tzinfo is not None else None
    return None


class RedisListProbe:
    """``read()`` → ``(depth, oldest age in seconds or None)`` of one Redis list."""

    def __init__(
        self, client: Any, key: str, *, oldest: str, timestamp_field: str, zset: str | None
    ) -> None:
        kinds = {f"{k.__module__}.{k.__qualname__}" for k in type(client).__mro__}
        if not any(k.startswith("redis.") for k in kinds) or not hasattr(client, "pipeline"):
            raise ConfigurationError(
                f"queues.track_redis_list({key!r}): client must be a redis.Redis, got "
                f"{type(client).__module__}.{type(client).__qualname__}"
            )
        if any(k.startswith("redis.asyncio.") for k in kinds):
            raise ConfigurationError(
                f"queues.track_redis_list({key!r}): pass a sync redis.Redis (for example "
                "redis.Redis.from_url(url)); the queue is read at scrape time in a worker "
                "thread, where an asyncio client bound to your event loop cannot run"
            )
        if oldest not in ("tail", "head"):
            raise ConfigurationError(
                f"queues.track_redis_list({key!r}): oldest must be 'tail' (LPUSH + BRPOP) or "
                f"'head' (RPUSH + BLPOP), got {oldest!r}"
            )
        self.client = client
        self.key = key
        self.index = -1 if oldest == "tail" else 0
        self.field = timestamp_field
        self.zset = zset

    def read(self) -> tuple[float, float | None]:
        pipe = self.client.pipeline(transaction=False)
        pipe.llen(self.key)
        if self.zset is not None:
            pipe.zrange(self.zset, 0, 0, withscores=True)
        else:
            pipe.lindex(self.key, self.index)
        depth, oldest = pipe.execute()
        now = time.time()
        if not depth:
            return 0.0, 0.0
        if self.zset is not None:
            enqueued = float(oldest[0][1]) if oldest else None
        else:
            enqueued = enqueue_time(oldest, self.field)
        return float(depth), (None if enqueued is None else max(0.0, now - enqueued))
