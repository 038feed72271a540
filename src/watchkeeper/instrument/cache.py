"""Cache hit ratio: ``watchkeeper.cache``.

    from watchkeeper import cache
    value = local.get(key)
    cache.record_hit("sessions") if value is not None else cache.record_miss("sessions")

    client = cache.instrument_redis(redis.Redis(), cache="sessions")   # counts for you
    cache.redis_server_stats(redis.Redis())                            # INFO gauges

``cache_requests_total{cache, result="hit|miss"}`` is the counter the generated
``CacheHitRateLow`` alert and the dependencies board divide (hits / all lookups).
Cache names are bounded: past ``MAX_CACHES`` distinct names per registry, further
names fold into ``_other`` — a name built from request data cannot add series.
The redis-py wrapper and the server-stats collector live in ``cache_redis``.
"""

from __future__ import annotations

import threading

from watchkeeper.instrument import faults
from watchkeeper.instrument.metrics import CounterChild
from watchkeeper.instrument.registry import REGISTRY, Registry

__all__ = [
    "DEFAULT_CACHE",
    "MAX_CACHES",
    "CacheCounters",
    "cache_counters",
    "instrument_redis",
    "record_hit",
    "record_miss",
    "redis_server_stats",
]

DEFAULT_CACHE = "default"
MAX_CACHES = 50
OTHER_CACHE = "_other"
_KEY = "watchkeeper.cache"


class CacheCounters:
    """The hit and miss children of each cache name of one registry, resolved once."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.family = registry.counter(
            "cache_requests",
            "Cache lookups by result: hit (the value was cached) or miss.",
            ["cache", "result"],
        )
        self._lock = threading.Lock()
        self._children: dict[str, tuple[CounterChild, CounterChild]] = {}

    def pair(self, cache: str) -> tuple[CounterChild, CounterChild]:
        """``(hit, miss)`` children of ``cache`` (``_other`` past the name budget)."""
        found = self._children.get(cache)
        if found is not None:
            return found
        with self._lock:
            found = self._children.get(cache)
            if found is not None:
                return found
            valid = isinstance(cache, str) and 0 < len(cache) <= 100
            name = cache if valid and len(self._children) < MAX_CACHES else OTHER_CACHE
            found = (self.family.labels(name, "hit"), self.family.labels(name, "miss"))
            if name == cache:  # remember real names only, so this dict stays bounded too
                self._children[cache] = found
            return found


def cache_counters(registry: Registry) -> CacheCounters:
    found = registry.extensions.get(_KEY)
    if isinstance(found, CacheCounters):
        return found
    counters = CacheCounters(registry)
    registry.extensions[_KEY] = counters
    return counters


def record_hit(cache: str = DEFAULT_CACHE, n: int = 1, *, registry: Registry | None = None) -> None:
    """Count ``n`` lookups of ``cache`` that found their value. Never raises."""
    reg = registry or REGISTRY
    try:
        cache_counters(reg).pair(cache)[0].inc(n)
    except Exception as exc:
        faults.report("cache.record", exc, reg)


def record_miss(
    cache: str = DEFAULT_CACHE, n: int = 1, *, registry: Registry | None = None
) -> None:
    """Count ``n`` lookups of ``cache`` that found nothing. Never raises."""
    reg = registry or REGISTRY
    try:
        cache_counters(reg).pair(cache)[1].inc(n)
    except Exception as exc:
        faults.report("cache.record", exc, reg)


# The redis-py helpers belong to this namespace (``watchkeeper.cache.instrument_redis``);
# imported last because they build on the counters above. redis itself is not imported.
from watchkeeper.instrument.cache_redis import instrument_redis, redis_server_stats  # noqa: E402
