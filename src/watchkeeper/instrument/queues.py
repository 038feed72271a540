"""Queue depth and the age of the oldest job: ``watchkeeper.queues``.

    from watchkeeper import queues
    queues.track_redis_list(redis.Redis(), "jobs:email", queue="email")
    queues.track("reports", depth=lambda: Report.objects.filter(done=False).count())
    queues.set_depth("uploads", 12, oldest_age=3.5)      # push style, from a worker

Two gauges, read by the generated ``QueueBacklog`` alert and the dependencies board:

- ``queue_depth{queue}``: items waiting;
- ``queue_oldest_age_seconds{queue}``: how long the oldest waiting item has waited
  (0 for an empty queue; absent when it cannot be told).

Tracked queues are read at scrape time through ``ScrapeSource``: cached for ``ttl``
seconds, and a slow backend costs a scrape at most ``timeout`` seconds (then the
last value is served, or nothing). Callables run in a worker thread, so they must be
plain (sync) functions; for asyncio apps pass a sync client for the same backend.
Queue names are bounded (``MAX_QUEUES`` per registry).
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterable
from time import monotonic
from typing import Any

from watchkeeper.errors import ConfigurationError
from watchkeeper.instrument import faults
from watchkeeper.instrument.queue_redis import RedisListProbe
from watchkeeper.instrument.registry import REGISTRY, MetricFamily, Registry, Sample
from watchkeeper.instrument.scrape_source import ScrapeSource

__all__ = ["MAX_QUEUES", "set_depth", "track", "track_redis_list", "untrack"]

MAX_QUEUES = 100
_KEY = "watchkeeper.queues"
DEPTH = "queue_depth"
AGE = "queue_oldest_age_seconds"

Reading = tuple[float, float | None]  # (depth, oldest age in seconds or None)


class _Queues:
    """Every queue of one registry: pushed values and tracked sources."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.lock = threading.Lock()
        self.pushed: dict[str, Reading] = {}
        self.sources: dict[str, ScrapeSource[Reading]] = {}

    def names(self) -> set[str]:
        return set(self.pushed) | set(self.sources)

    def collect(self) -> Iterable[MetricFamily]:
        with self.lock:
            pushed = dict(self.pushed)
            sources = dict(self.sources)
        readings: dict[str, Reading] = dict(pushed)
        for source in sources.values():
            source.kick()  # overlap the fetches: one scrape waits ~timeout in total
        deadline = monotonic() + max((s.timeout for s in sources.values()), default=0.0)
        for name, source in sources.items():
            reading = source.get(wait=min(source.timeout, max(0.0, deadline - monotonic())))
            if reading is not None:
                readings[name] = reading
        depth = MetricFamily(DEPTH, "gauge", "Items waiting in the queue.", [], "livemax")
        age = MetricFamily(
            AGE, "gauge", "How long the oldest waiting item has waited.", [], "livemax"
        )
        for name, (n, oldest) in sorted(readings.items()):
            depth.samples.append(Sample(DEPTH, {"queue": name}, float(n)))
            if oldest is not None:
                age.samples.append(Sample(AGE, {"queue": name}, max(0.0, float(oldest))))
        return [depth, age]


def _queues(registry: Registry) -> _Queues:
    found = registry.extensions.get(_KEY)
    if isinstance(found, _Queues):
        return found
    queues = _Queues(registry)
    registry.extensions[_KEY] = queues
    registry.register_collector("queues", queues.collect)
    return queues


def _check_name(queue: object, where: str) -> str:
    if not isinstance(queue, str) or not queue or len(queue) > 100:
        raise ConfigurationError(
            f"{where}: queue name must be a non-empty string of at most 100 characters, "
            f"got {queue!r}"
        )
    return queue


def _room(queues: _Queues, queue: str) -> bool:
    return queue in queues.names() or len(queues.names()) < MAX_QUEUES


def track(
    queue: str,
    depth: Callable[[], float],
    *,
    oldest_age: Callable[[], float | None] | None = None,
    timeout: float = 0.5,
    ttl: float = 1.0,
    registry: Registry | None = None,
) -> None:
    """Report ``depth()`` (and ``oldest_age()`` seconds) for ``queue`` at every scrape.

    Tracking a name again replaces its callables.
    """
    reg = registry or REGISTRY
    _check_name(queue, "queues.track()")
    for what, fn in (("depth", depth), ("oldest_age", oldest_age)):
        if fn is None:
            continue
        if not callable(fn) or inspect.iscoroutinefunction(fn):
            raise ConfigurationError(
                f"queues.track({queue!r}): {what} must be a plain callable returning a number "
                f"(it runs in a worker thread at scrape time), got {fn!r}"
            )
    age_fn = oldest_age

    def read() -> Reading:
        return float(depth()), (None if age_fn is None else age_fn())

    _track(reg, queue, read, timeout=timeout, ttl=ttl)


def _track(
    registry: Registry, queue: str, read: Callable[[], Reading], *, timeout: float, ttl: float
) -> None:
    if timeout <= 0 or ttl < 0:
        raise ConfigurationError(
            f"queue {queue!r}: timeout must be > 0 and ttl >= 0 seconds, got {timeout!r}, {ttl!r}"
        )
    queues = _queues(registry)
    with queues.lock:
        if not _room(queues, queue):
            raise ConfigurationError(
                f"queue {queue!r}: already tracking {MAX_QUEUES} queues, the limit that keeps "
                "queue_depth's series bounded; track fewer queues"
            )
        queues.sources[queue] = ScrapeSource(
            read, component=f"queue:{queue}", registry=registry, timeout=timeout, ttl=ttl
        )


def track_redis_list(
    client: Any,
    key: str,
    *,
    queue: str | None = None,
    oldest: str = "tail",
    timestamp_field: str = "enqueued_at",
    timestamps_zset: str | None = None,
    timeout: float = 0.5,
    ttl: float = 1.0,
    registry: Registry | None = None,
) -> None:
    """Track a Redis list used as a queue (``LLEN``; age from the oldest item).

    ``oldest``: the end holding the oldest item — ``"tail"`` for LPUSH + (B)RPOP
    queues (Celery's layout), ``"head"`` for RPUSH + (B)LPOP. The oldest item's age
    comes from its JSON field ``timestamp_field`` (Unix seconds or an ISO-8601
    string); or, with ``timestamps_zset``, from the lowest score of that sorted set
    (producers ``ZADD`` each job id with its enqueue time). ``client`` is a sync
    ``redis.Redis``.
    """
    name = _check_name(queue if queue is not None else key, "queues.track_redis_list()")
    probe = RedisListProbe(
        client, key, oldest=oldest, timestamp_field=timestamp_field, zset=timestamps_zset
    )
    _track(registry or REGISTRY, name, probe.read, timeout=timeout, ttl=ttl)


def untrack(queue: str, *, registry: Registry | None = None) -> None:
    """Stop reporting ``queue`` (tracked or pushed)."""
    queues = _queues(registry or REGISTRY)
    with queues.lock:
        queues.sources.pop(queue, None)
        queues.pushed.pop(queue, None)


def set_depth(
    queue: str,
    depth: float,
    *,
    oldest_age: float | None = None,
    registry: Registry | None = None,
) -> None:
    """Push the current depth (and oldest age in seconds) of ``queue``. Never raises."""
    reg = registry or REGISTRY
    try:
        _check_name(queue, "queues.set_depth()")
        queues = _queues(reg)
        with queues.lock:
            if not _room(queues, queue):
                raise ConfigurationError(
                    f"queue {queue!r} dropped: {MAX_QUEUES} queues are already reported"
                )
            queues.pushed[queue] = (float(depth), None if oldest_age is None else float(oldest_age))
    except Exception as exc:
        faults.report("queues.set_depth", exc, reg)
