"""Connection-pool gauges of instrumented SQLAlchemy engines, read at scrape time.

A collector per registry reads each tracked engine's pool status (``checkedout``,
``checkedin``, ``overflow``, ``size``) when /metrics is rendered — plain attribute
reads, no database round-trip — under the names OpenTelemetry's own SQLAlchemy
instrumentation emits (semconv v1.24's ``db.client.connections.*``: its newer
``db.client.connection.count`` would read ``db_client_connection_count`` in
Prometheus, which promtool rejects as a non-histogram ``_count``):

- ``db_client_connections_usage{pool_name, state}`` with state ``used`` (checked
  out) or ``idle`` (checked in, ready);
- ``db_client_connections_max{pool_name}``: ``pool_size + max_overflow`` (absent
  when the overflow is unlimited);
- ``db_client_connections_overflow{pool_name}``: connections open beyond
  ``pool_size`` right now (SQLAlchemy's overflow; near the maximum means requests
  are about to wait for a connection).

Pools without these counters (``NullPool``, ``StaticPool``) report nothing.
Engines are held weakly: a disposed, collected engine drops out of the output.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable
from typing import Any

from watchkeeper.instrument.registry import MetricFamily, Registry, Sample

__all__ = ["pool_label", "pool_samples", "track_pool", "untrack_pool"]

_KEY = "watchkeeper.db.pools"
_POOL = "pool_name"


class _Pools:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.engines: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()

    def collect(self) -> Iterable[MetricFamily]:
        # Each worker process has its own pools: live workers' gauges add up ("livesum";
        # the default "sum" would keep a dead worker's last connections forever).
        with self.lock:
            tracked = list(self.engines.items())
        count = MetricFamily(
            "db_client_connections_usage",
            "gauge",
            "Connections of the pool by state: used (checked out) or idle.",
            [],
            "livesum",
        )
        maximum = MetricFamily(
            "db_client_connections_max",
            "gauge",
            "The most connections the pool may open (pool_size + max_overflow).",
            [],
            "livesum",
        )
        overflow = MetricFamily(
            "db_client_connections_overflow",
            "gauge",
            "Connections open beyond pool_size (SQLAlchemy's overflow).",
            [],
            "livesum",
        )
        for engine, name in tracked:
            samples = pool_samples(engine.pool, name)
            count.samples.extend(s for s in samples if s.name == count.name)
            maximum.samples.extend(s for s in samples if s.name == maximum.name)
            overflow.samples.extend(s for s in samples if s.name == overflow.name)
        return [f for f in (count, maximum, overflow) if f.samples]


def pool_samples(pool: Any, name: str) -> list[Sample]:
    """The gauges of one pool (empty for pools that keep no counts)."""
    checkedout = getattr(pool, "checkedout", None)
    checkedin = getattr(pool, "checkedin", None)
    if not callable(checkedout) or not callable(checkedin):
        return []
    label = {_POOL: name}
    out = [
        Sample("db_client_connections_usage", {**label, "state": "used"},
               float(checkedout())),
        Sample("db_client_connections_usage", {**label, "state": "idle"},
               float(checkedin())),
    ]  # fmt: skip
    size = getattr(pool, "size", None)
    over = getattr(pool, "overflow", None)
    max_overflow = getattr(pool, "_max_overflow", None)
    if callable(size) and callable(over):
        out.append(Sample("db_client_connections_overflow", label, float(max(0, over()))))
        if isinstance(max_overflow, int) and max_overflow >= 0:
            out.append(Sample("db_client_connections_max", label, float(size() + max_overflow)))
    return out


def pool_label(url: Any) -> str:
    """``host:port/database`` of a SQLAlchemy URL: unique enough, never credentials."""
    host = url.host or "localhost"
    port = f":{url.port}" if url.port else ""
    database = f"/{url.database}" if url.database else ""
    return f"{host}{port}{database}"[:120]


def _pools(registry: Registry) -> _Pools:
    pools = registry.extensions.get(_KEY)
    if not isinstance(pools, _Pools):
        pools = _Pools()
        registry.extensions[_KEY] = pools
        registry.register_collector("sqlalchemy_pools", pools.collect)
    return pools


def track_pool(registry: Registry, engine: Any, name: str) -> str:
    """Report ``engine``'s pool gauges in ``registry``; returns the pool's label value.

    Two live engines asking for one name (two engines on one URL) get ``name#2``,
    ``name#3``...: series of different pools must not collide.
    """
    pools = _pools(registry)
    with pools.lock:
        taken = {n for e, n in pools.engines.items() if e is not engine}
        unique, n = name, 1
        while unique in taken:
            n += 1
            unique = f"{name}#{n}"
        pools.engines[engine] = unique
    return unique


def untrack_pool(registry: Registry, engine: Any) -> None:
    pools = _pools(registry)
    with pools.lock:
        pools.engines.pop(engine, None)
