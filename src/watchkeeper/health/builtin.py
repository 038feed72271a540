"""Ready-made checks: PostgreSQL, Redis, HTTP, TCP, disk, memory and canaries.

Each factory returns a ``Check`` to pass to ``instrument(app, checks=[...])`` or
``add_check``. Drivers are imported lazily: a check for a client object uses the
client you already have (detected by its type's module, never importing a driver
the app does not use); a check built from a URL imports its driver when created
and says which extra to install when it is missing. Names derived from URLs never
carry credentials.
"""

from __future__ import annotations

import math
import os
import shutil
import socket
from collections.abc import Callable, Container
from importlib import import_module
from time import perf_counter
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from watchkeeper.errors import ConfigurationError
from watchkeeper.health._redact import redact
from watchkeeper.health.checks import DEFAULT_CACHE, DEFAULT_TIMEOUT, Check, is_async

__all__ = ["canary", "disk", "http", "memory", "postgres", "redis", "tcp"]

_MISSING = object()


def _require(module: str, extra: str, what: str) -> ModuleType:
    try:
        return import_module(module)
    except ImportError as exc:
        raise ConfigurationError(
            f"{what} needs the {module.split('.')[0]} package, which is not installed: "
            f"pip install 'watchkeeper[{extra}]'"
        ) from exc


def _kinds(obj: object) -> set[str]:
    """``package.Class`` of every class in ``obj``'s MRO: a type check without importing
    the driver, stable across the driver's internal module moves."""
    return {f"{k.__module__.split('.')[0]}.{k.__qualname__}" for k in type(obj).__mro__}


def _opts(name: str, critical: bool, timeout: float, cache: float) -> dict[str, Any]:
    return {"name": name, "critical": critical, "timeout": timeout, "cache": cache}


# -- PostgreSQL -------------------------------------------------------------------------
def postgres(
    target: Any,
    *,
    name: str = "postgres",
    critical: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    cache: float = DEFAULT_CACHE,
    driver: str = "psycopg",
) -> Check:
    """``SELECT 1`` on PostgreSQL.

    ``target``: a SQLAlchemy ``Engine`` or ``AsyncEngine``, a psycopg
    ``Connection``/``AsyncConnection`` or pool, an asyncpg ``Pool``/``Connection``, or
    a DSN (``postgresql://...``) that is connected to for each run with ``driver``
    ``"psycopg"`` (default) or ``"asyncpg"``.
    """
    opts = _opts(name, critical, timeout, cache)
    connect_timeout = max(1, math.ceil(timeout))
    if isinstance(target, str):
        if driver == "asyncpg":
            asyncpg = _require("asyncpg", "asyncpg", "health.postgres(driver='asyncpg')")
            dsn = target

            async def asyncpg_dsn() -> None:
                conn = await asyncpg.connect(dsn, timeout=connect_timeout)
                try:
                    await conn.fetchval("SELECT 1")
                finally:
                    await conn.close(timeout=connect_timeout)

            return Check(asyncpg_dsn, **opts)
        if driver != "psycopg":
            raise ConfigurationError(
                f"health.postgres: driver must be 'psycopg' or 'asyncpg', got {driver!r}"
            )
        psycopg = _require("psycopg", "postgres", "health.postgres('postgresql://...')")
        dsn = target

        def psycopg_dsn() -> None:
            with psycopg.connect(dsn, connect_timeout=connect_timeout, autocommit=True) as conn:
                conn.execute("SELECT 1")

        return Check(psycopg_dsn, **opts)
    kinds = _kinds(target)
    if "sqlalchemy.AsyncEngine" in kinds:
        text = import_module("sqlalchemy").text

        async def sqlalchemy_async() -> None:
            async with target.connect() as conn:
                await conn.execute(text("SELECT 1"))

        return Check(sqlalchemy_async, **opts)
    if "sqlalchemy.Engine" in kinds:
        text = import_module("sqlalchemy").text

        def sqlalchemy_sync() -> None:
            with target.connect() as conn:
                conn.execute(text("SELECT 1"))

        return Check(sqlalchemy_sync, **opts)
    if kinds & {"asyncpg.Pool", "asyncpg.Connection", "asyncpg.PoolConnectionProxy"}:

        async def asyncpg_client() -> None:
            await target.fetchval("SELECT 1", timeout=timeout)

        return Check(asyncpg_client, **opts)
    if "psycopg.AsyncConnection" in kinds:

        async def psycopg_async() -> None:
            await target.execute("SELECT 1")

        return Check(psycopg_async, **opts)
    if "psycopg.Connection" in kinds:
        return Check(lambda: target.execute("SELECT 1") and None, **opts)
    if "psycopg_pool.AsyncConnectionPool" in kinds:

        async def psycopg_async_pool() -> None:
            async with target.connection(timeout=timeout) as conn:
                await conn.execute("SELECT 1")

        return Check(psycopg_async_pool, **opts)
    if "psycopg_pool.ConnectionPool" in kinds:

        def psycopg_pool() -> None:
            with target.connection(timeout=timeout) as conn:
                conn.execute("SELECT 1")

        return Check(psycopg_pool, **opts)
    raise ConfigurationError(
        f"health.postgres() cannot check a {type(target).__name__}: pass a DSN string, a "
        "SQLAlchemy Engine/AsyncEngine, a psycopg connection or pool, or an asyncpg pool"
    )


# -- Redis ----------------------------------------------------------------------------------
def redis(
    target: Any,
    *,
    name: str = "redis",
    critical: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    cache: float = DEFAULT_CACHE,
) -> Check:
    """``PING`` on Redis: a redis-py ``Redis`` (sync or ``redis.asyncio``), or a URL."""
    opts = _opts(name, critical, timeout, cache)
    if isinstance(target, str):
        module = _require("redis", "redis", "health.redis('redis://...')")
        # One client (and its pool) for every run: a probe must not open a connection each time.
        client = module.Redis.from_url(
            target, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        return Check(lambda: client.ping(), **opts)
    kinds = _kinds(target)
    if any(k.__module__.startswith("redis.asyncio") for k in type(target).__mro__):

        async def redis_async() -> object:
            return await target.ping()

        return Check(redis_async, **opts)
    if kinds & {"redis.Redis", "redis.RedisCluster", "redis.StrictRedis"}:
        return Check(lambda: target.ping(), **opts)
    raise ConfigurationError(
        f"health.redis() cannot check a {type(target).__name__}: pass a redis://... URL or a "
        "redis.Redis / redis.asyncio.Redis client"
    )


# -- network ----------------------------------------------------------------------------
def http(
    url: str,
    *,
    name: str | None = None,
    critical: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    cache: float = DEFAULT_CACHE,
    expect_status: Container[int] = range(200, 400),
    max_latency: float | None = None,
    method: str = "GET",
    headers: dict[str, str] | None = None,
) -> Check:
    """An HTTP dependency answers ``url`` with an expected status (2xx/3xx), fast enough.

    Uses the standard library (no extra dependency). ``max_latency`` (seconds)
    fails a dependency that answers but too slowly.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"health.http() needs an http:// or https:// URL, got {redact(url)!r}"
        )
    label = name or f"http:{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    shown = redact(url)
    request_headers = dict(headers or {})

    def http_check() -> None:
        # Imported here: urllib.request pulls in http.client and email (~30 ms), a
        # cost every service importing watchkeeper would pay for a check few use.
        import urllib.error
        import urllib.request

        request = urllib.request.Request(url, method=method, headers=request_headers)
        start = perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
            exc.close()
        elapsed = perf_counter() - start
        if status not in expect_status:
            raise ConnectionError(f"HTTP {status} from {shown}")
        if max_latency is not None and elapsed > max_latency:
            raise TimeoutError(
                f"{shown} answered in {elapsed * 1000:.0f} ms, over max_latency "
                f"{max_latency * 1000:.0f} ms"
            )

    return Check(http_check, **_opts(label, critical, timeout, cache))


def tcp(
    host: str,
    port: int,
    *,
    name: str | None = None,
    critical: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    cache: float = DEFAULT_CACHE,
) -> Check:
    """A TCP connection to ``host:port`` opens (then closes at once)."""

    def tcp_check() -> None:
        with socket.create_connection((host, port), timeout=timeout):
            pass

    return Check(tcp_check, **_opts(name or f"tcp:{host}:{port}", critical, timeout, cache))


# -- host resources ---------------------------------------------------------------------
def disk(
    path: str = "/",
    *,
    min_free_percent: float = 10.0,
    name: str | None = None,
    critical: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    cache: float = DEFAULT_CACHE,
) -> Check:
    """The filesystem holding ``path`` has at least ``min_free_percent`` % free."""

    def disk_check() -> None:
        usage = shutil.disk_usage(path)
        free = 100.0 * usage.free / usage.total if usage.total else 0.0
        if free < min_free_percent:
            raise OSError(f"{free:.1f}% free on {path}, below {min_free_percent:g}%")

    return Check(disk_check, **_opts(name or f"disk:{path}", critical, timeout, cache))


def memory_used_percent() -> float:
    """Used memory in % of total: psutil when installed, else ``/proc/meminfo``."""
    try:
        import psutil
    except ImportError:
        pass
    else:
        return float(psutil.virtual_memory().percent)
    if not os.path.exists("/proc/meminfo"):
        raise OSError("memory check needs psutil (pip install 'watchkeeper[system]') or /proc")
    info: dict[str, int] = {}
    with open("/proc/meminfo", encoding="ascii") as f:
        for line in f:
            key, _, rest = line.partition(":")
            info[key] = int(rest.split()[0])
    total = info["MemTotal"]
    available = info.get("MemAvailable", info.get("MemFree", 0))
    return 100.0 * (total - available) / total


def memory(
    *,
    max_used_percent: float = 90.0,
    name: str = "memory",
    critical: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    cache: float = DEFAULT_CACHE,
) -> Check:
    """The host uses at most ``max_used_percent`` % of its memory."""

    def memory_check() -> None:
        used = memory_used_percent()
        if used > max_used_percent:
            raise MemoryError(f"{used:.1f}% of memory used, above {max_used_percent:g}%")

    return Check(memory_check, **_opts(name, critical, timeout, cache))


# -- canaries ---------------------------------------------------------------------------
def canary(
    fn: Callable[[], Any],
    expect: Any = _MISSING,
    *,
    name: str | None = None,
    critical: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    cache: float = DEFAULT_CACHE,
) -> Check:
    """Exercise a real function: ``canary(lambda: verify("2+2"), expect=4, name="verify")``.

    Passes when ``fn()`` (sync or async) returns a value equal to ``expect`` (or,
    without ``expect``, when it does not raise or return False).
    """
    label = name or getattr(fn, "__name__", "")
    if not label or label == "<lambda>":
        raise ConfigurationError("health.canary() of a lambda needs name='...'")

    def compare(value: object) -> None:
        if expect is not _MISSING and value != expect:
            raise AssertionError(f"canary {label} returned {value!r:.80}, expected {expect!r:.80}")
        if expect is _MISSING and value is False:
            raise AssertionError(f"canary {label} returned False")

    if is_async(fn):

        async def async_canary() -> None:
            compare(await fn())

        return Check(async_canary, **_opts(label, critical, timeout, cache))

    def sync_canary() -> None:
        value = fn()
        if hasattr(value, "__await__"):
            raise TypeError(f"canary {label}: fn returned an awaitable; pass an async def")
        compare(value)

    return Check(sync_canary, **_opts(label, critical, timeout, cache))
