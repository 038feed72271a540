"""redis-py as a cache: hits, misses and command latency; Redis server stats from INFO.

``instrument_redis(client, cache="sessions")`` wraps one ``redis.Redis`` or
``redis.asyncio.Redis`` instance (not the class: other clients stay untouched) by
replacing its ``execute_command``, through which every redis-py command method
goes. It records:

- ``cache_requests_total{cache, result}`` for reads of cached values: ``GET``,
  ``GETEX``, ``GETDEL``, ``HGET`` (nil = miss, else hit), ``MGET``/``HMGET`` (one
  hit or miss per key/field), ``HGETALL`` (empty = miss). ``EXISTS`` and writes are
  not lookups and are not counted (an "exists, then get" pattern would count twice);
- ``cache_operation_duration_seconds{cache, operation, error_type}``: every
  command's latency by lower-case command name (``error_type`` = exception class
  on failure).

Pipelines and transactions bypass ``execute_command`` and are not measured.

``redis_server_stats(client)`` adds a collector of the server's ``INFO`` under
redis_exporter's metric names (``redis_up``, ``redis_connected_clients``,
``redis_memory_used_bytes``, ``redis_memory_max_bytes``,
``redis_keyspace_hits_total``, ``redis_keyspace_misses_total``,
``redis_evicted_keys_total``), labelled ``dependency`` like the generated
Prometheus config labels exporter targets, and read through ``ScrapeSource``
(cached, bounded wait).
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterable
from time import monotonic, perf_counter
from typing import Any

from watchkeeper.errors import ConfigurationError
from watchkeeper.instrument import faults
from watchkeeper.instrument.cache import DEFAULT_CACHE, cache_counters
from watchkeeper.instrument.metrics import CounterChild, HistogramChild
from watchkeeper.instrument.registry import REGISTRY, MetricFamily, Registry, Sample
from watchkeeper.instrument.scrape_source import ScrapeSource

__all__ = ["CACHE_DURATION_BUCKETS", "instrument_redis", "redis_server_stats"]

# Cache round trips are sub-millisecond to tens of milliseconds.
CACHE_DURATION_BUCKETS: tuple[float, ...] = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
)  # fmt: skip
_SINGLE = frozenset({"get", "getex", "getdel", "hget"})
_MULTI = frozenset({"mget", "hmget"})
_MAX_OPERATIONS = 64
_MARK = "_watchkeeper_cache"


def _kinds(obj: object) -> set[str]:
    return {f"{k.__module__}.{k.__qualname__}" for k in type(obj).__mro__}


class _RedisMeter:
    """The children one instrumented client records into."""

    def __init__(self, cache: str, registry: Registry) -> None:
        self.registry = registry
        self.cache = cache
        self.hit, self.miss = cache_counters(registry).pair(cache)
        self.family = registry.histogram(
            "cache_operation_duration_seconds",
            "Duration of cache client commands by command name.",
            ["cache", "operation", "error_type"],
            buckets=CACHE_DURATION_BUCKETS,
        )
        self._ok: dict[str, HistogramChild] = {}
        self._lock = threading.Lock()

    def _operation(self, args: tuple[Any, ...]) -> str:
        name = args[0] if args else ""
        if isinstance(name, bytes):
            name = name.decode("ascii", "replace")
        return str(name).lower()[:32]

    def record(self, args: tuple[Any, ...], result: Any, started: float, error: str) -> None:
        elapsed = perf_counter() - started
        try:
            op = self._operation(args)
            if error:
                self._child(op, error).observe(elapsed)
                return
            child = self._ok.get(op)
            if child is None:
                child = self._child(op, "")
            child.observe(elapsed)
            self._count(op, result)
        except Exception as exc:
            faults.report("cache.redis", exc, self.registry)

    def _child(self, op: str, error: str) -> HistogramChild:
        with self._lock:
            known = op in self._ok or len(self._ok) < _MAX_OPERATIONS
            label = op if known else "other"
            child = self.family.labels(self.cache, label, error[:64])
            if not error and known:
                self._ok[op] = child
            return child

    def _count(self, op: str, result: Any) -> None:
        if op in _SINGLE:
            (self.miss if result is None else self.hit).inc()
        elif op in _MULTI and isinstance(result, list | tuple):
            misses = sum(1 for v in result if v is None)
            _inc(self.miss, misses)
            _inc(self.hit, len(result) - misses)
        elif op == "hgetall":
            (self.hit if result else self.miss).inc()


def _inc(child: CounterChild, n: int) -> None:
    if n:
        child.inc(n)


def instrument_redis(
    client: Any, *, cache: str = DEFAULT_CACHE, registry: Registry | None = None
) -> Any:
    """Count hits/misses and time commands of this redis-py client; returns the client.

    Idempotent: instrumenting a client again keeps the first instrumentation.
    """
    kinds = _kinds(client)
    if not any(k.startswith("redis.") for k in kinds) or not hasattr(client, "execute_command"):
        raise ConfigurationError(
            "cache.instrument_redis() takes a redis.Redis or redis.asyncio.Redis client, got "
            f"{type(client).__module__}.{type(client).__qualname__}"
        )
    if getattr(client, _MARK, None) is not None:
        return client
    meter = _RedisMeter(cache, registry or REGISTRY)
    original: Callable[..., Any] = client.execute_command
    if inspect.iscoroutinefunction(original):

        async def execute_async(*args: Any, **options: Any) -> Any:
            started = perf_counter()
            try:
                result = await original(*args, **options)
            except Exception as exc:
                meter.record(args, None, started, type(exc).__qualname__)
                raise
            meter.record(args, result, started, "")
            return result

        client.execute_command = execute_async
    else:

        def execute(*args: Any, **options: Any) -> Any:
            started = perf_counter()
            try:
                result = original(*args, **options)
            except Exception as exc:
                meter.record(args, None, started, type(exc).__qualname__)
                raise
            meter.record(args, result, started, "")
            return result

        client.execute_command = execute
    setattr(client, _MARK, meter)
    return client


# -- server stats ----------------------------------------------------------------------
_INFO_GAUGES = (
    ("redis_connected_clients", "connected_clients", "Client connections to the server."),
    ("redis_memory_used_bytes", "used_memory", "Memory the server has allocated."),
    ("redis_memory_max_bytes", "maxmemory", "The server's maxmemory setting (0 = none)."),
)
_INFO_COUNTERS = (
    ("redis_keyspace_hits_total", "keyspace_hits", "Successful key lookups on the server."),
    ("redis_keyspace_misses_total", "keyspace_misses", "Failed key lookups on the server."),
    ("redis_evicted_keys_total", "evicted_keys", "Keys evicted for the maxmemory limit."),
)
_STATS_KEY = "watchkeeper.redis_servers"


class _Servers:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sources: dict[str, ScrapeSource[dict[str, Any]]] = {}

    def collect(self) -> Iterable[MetricFamily]:
        with self.lock:
            sources = dict(self.sources)
        for source in sources.values():
            source.kick()
        deadline = monotonic() + max((s.timeout for s in sources.values()), default=0.0)
        # Every worker process reads the same server: combine workers by max, not sum.
        up = MetricFamily(
            "redis_up", "gauge", "1 when the Redis server answered INFO.", [], "livemax"
        )
        families = {
            name: MetricFamily(name, mtype, doc, [], "livemax")
            for mtype, table in (("gauge", _INFO_GAUGES), ("counter", _INFO_COUNTERS))
            for name, _, doc in table
        }
        for dependency, source in sorted(sources.items()):
            info = source.get(wait=min(source.timeout, max(0.0, deadline - monotonic())))
            labels = {"dependency": dependency}
            up.samples.append(Sample("redis_up", labels, 0.0 if info is None else 1.0))
            if info is None:
                continue
            for name, field, _ in (*_INFO_GAUGES, *_INFO_COUNTERS):
                value = info.get(field)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    families[name].samples.append(Sample(name, labels, float(value)))
        return [up, *(f for f in families.values() if f.samples)]


def redis_server_stats(
    client: Any,
    *,
    dependency: str = "redis",
    timeout: float = 0.5,
    ttl: float = 1.0,
    registry: Registry | None = None,
) -> None:
    """Report the server's INFO stats at every scrape (``client``: a sync ``redis.Redis``)."""
    kinds = _kinds(client)
    if not any(k.startswith("redis.") for k in kinds) or not hasattr(client, "info"):
        raise ConfigurationError(
            "cache.redis_server_stats() takes a redis.Redis client, got "
            f"{type(client).__module__}.{type(client).__qualname__}"
        )
    if any(k.startswith("redis.asyncio.") for k in kinds):
        raise ConfigurationError(
            "cache.redis_server_stats() needs a sync redis.Redis (for example "
            "redis.Redis.from_url(url)): INFO is read at scrape time in a worker thread, where "
            "an asyncio client bound to your event loop cannot run"
        )
    if not isinstance(dependency, str) or not dependency or len(dependency) > 100:
        raise ConfigurationError(
            f"cache.redis_server_stats(dependency={dependency!r}): use a short non-empty name"
        )
    reg = registry or REGISTRY
    servers = reg.extensions.get(_STATS_KEY)
    if not isinstance(servers, _Servers):
        servers = _Servers()
        reg.extensions[_STATS_KEY] = servers
        reg.register_collector("redis_servers", servers.collect)

    def fetch() -> dict[str, Any]:
        info: dict[str, Any] = client.info()
        return info

    with servers.lock:
        servers.sources[dependency] = ScrapeSource(
            fetch, component=f"redis_stats:{dependency}", registry=reg, timeout=timeout, ttl=ttl
        )
