"""The LLM gateway: a FastAPI API in front of an LLM, on PostgreSQL and Redis (guide seed 003).

``POST /v1/tasks`` (``Authorization: Bearer <API key>``, ``{"prompt": ..., "model": ...}``)
checks the key's per-minute limit in Redis, asks the model through the openai client
(``upstream.py`` is a local fake of the provider), stores the task with its tokens and
cost in PostgreSQL and answers with the reply. ``GET /v1/usage`` is the caller's spend
today, from PostgreSQL.

What watchkeeper measures, and the guide's names for it:

- ``llm_tokens_total`` (tokens/minute), ``llm_cost_usd_total`` ($/hour, LLMCostOverBudget),
  ``llm_requests_total`` and latency, per model: ``watchkeeper.llm.wrap(client, api_key=key)``
- ``outcomes_total{operation="task"}``: task success rate, failures by reason;
  average task cost = cost / tasks
- ``llm_active_api_keys`` / ``llm_daily_active_api_keys`` and per-key usage, with keys
  hashed and bounded by the SDK (a key is never a label, never logged)
- HTTP golden signals, ``/health`` (liveness) and ``/ready`` (PostgreSQL and Redis),
  DB queries and pool, Redis latency, JSON logs with request ids in a rotated file

PostgreSQL and Redis down (DatabaseDown, RedisDown) are alerted on the real exporters'
``pg_up`` and ``redis_up``. For a run without the exporters, the app serves them itself at
``/_exporters/redis`` (the SDK's ``cache.redis_server_stats``, which reads ``INFO`` under
redis_exporter's names) and ``/_exporters/postgres`` (a STAND-IN for postgres_exporter:
the SDK has no ``pg_up``; it runs ``SELECT 1`` through the app's own engine).

Faults (``/_faults``): ``db_down`` and ``redis_down`` point the app's PostgreSQL DSN or
Redis URL at a closed port (a loopback port bound and never listening: connections are
refused), as if the server had gone away. The provider has its own (``errors``,
``expensive``), see ``upstream.py``.
"""

from __future__ import annotations

import logging
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import openai
import psycopg
import redis
from fastapi import FastAPI, Header, HTTPException, Response
from pydantic import BaseModel, Field
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import SQLAlchemyError

import watchkeeper
from examples._shared.faults import FaultSwitch, fastapi_router
from watchkeeper import cache, health
from watchkeeper.instrument import Registry
from watchkeeper.instrument.exposition import render

__all__ = [
    "CHECK_TIMEOUT_S",
    "FAULTS",
    "REASONS",
    "Backends",
    "Faults",
    "Settings",
    "at_port",
    "create_app",
    "ensure_database",
]

REASONS = ("upstream", "database", "redis")  # why a task failed
CHECK_TIMEOUT_S = 0.5
EXPORTER_PATHS = ("/_exporters/postgres", "/_exporters/redis")
KEY = re.compile(r"^sk-[A-Za-z0-9_-]{8,100}$")
SCHEMA = """CREATE TABLE IF NOT EXISTS llm_gateway_tasks (
    id bigserial PRIMARY KEY, api_key_id text NOT NULL, model text NOT NULL,
    input_tokens integer NOT NULL, output_tokens integer NOT NULL,
    cost_usd double precision NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"""

log = logging.getLogger("llm_gateway")


class Faults(FaultSwitch):
    """The shared fault switch, calling ``on_change`` after a fault flips."""

    on_change: Callable[[], None] = staticmethod(lambda: None)

    def set(self, name: str, value: float = 1.0) -> None:
        super().set(name, value)
        self.on_change()

    def clear(self, name: str) -> None:
        super().clear(name)
        self.on_change()


FAULTS = Faults(["db_down", "redis_down"])


@dataclass(frozen=True)
class Settings:
    upstream_url: str = "http://127.0.0.1:8301/v1"
    pg_dsn: str = "postgresql://postgres@127.0.0.1:5432/wk_llm"
    redis_url: str = "redis://127.0.0.1:6379/12"  # db 12: this example's, nobody else's
    requests_per_minute: int = 600  # per API key
    max_tokens: int = 64


class TaskIn(BaseModel):
    prompt: str = Field(min_length=1, max_length=4000)
    model: str = "gpt-4o-mini"


def at_port(url: str, port: int) -> str:
    """``url`` with its port replaced (user and database kept)."""
    parts = urlsplit(url)
    user = parts.netloc.rpartition("@")[0]
    netloc = f"{user}@" if user else ""
    return urlunsplit(parts._replace(netloc=f"{netloc}{parts.hostname}:{port}"))


def ensure_database(dsn: str) -> None:
    """Create the DSN's database (from the server's ``postgres`` database) and the table."""
    name = urlsplit(dsn).path.lstrip("/")
    admin = urlunsplit(urlsplit(dsn)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        conn.execute(SCHEMA)


class Backends:
    """The engine and Redis client the app (and its checks and metrics) use. The
    ``db_down`` / ``redis_down`` faults point them at a closed port; connections made
    to the previous address are dropped when a fault flips."""

    def __init__(self, settings: Settings, faults: FaultSwitch) -> None:
        self.settings = settings
        self.faults = faults
        self._closed = socket.socket()
        self._closed.bind(("127.0.0.1", 0))  # bound, never listening: connections refused
        self.closed_port: int = self._closed.getsockname()[1]
        self.engine: Engine = create_engine(
            settings.pg_dsn.replace("postgresql://", "postgresql+psycopg://", 1),
            creator=lambda: psycopg.connect(self.pg_dsn(), connect_timeout=2),
            pool_size=5,
            max_overflow=5,
            pool_timeout=2,
        )
        self.redis = redis.Redis(connection_pool=self._redis_pool())

    def pg_dsn(self) -> str:
        down = self.faults.active("db_down")
        return at_port(self.settings.pg_dsn, self.closed_port) if down else self.settings.pg_dsn

    def redis_url(self) -> str:
        down = self.faults.active("redis_down")
        url = self.settings.redis_url
        return at_port(url, self.closed_port) if down else url

    def _redis_pool(self) -> redis.ConnectionPool:
        return redis.ConnectionPool.from_url(
            self.redis_url(),
            socket_timeout=1,
            socket_connect_timeout=1,
            retry=Retry(NoBackoff(), 0),
        )

    def follow_faults(self) -> None:
        self.engine.dispose()
        old, self.redis.connection_pool = self.redis.connection_pool, self._redis_pool()
        old.disconnect()


def create_app(settings: Settings, faults: Faults = FAULTS) -> FastAPI:
    """The gateway, instrumented. Configure logs before calling it."""
    ensure_database(settings.pg_dsn)
    llm_metrics = watchkeeper.llm.configure()  # the SDK's price table; keys hashed, bounded
    watchkeeper.declare_outcomes("task", reasons=REASONS)
    backends = Backends(settings, faults)
    faults.on_change = backends.follow_faults
    watchkeeper.instrument_sqlalchemy(backends.engine, slow_query_threshold=0.5)
    limiter = cache.instrument_redis(backends.redis, cache="ratelimit")
    provider = openai.OpenAI(
        base_url=settings.upstream_url, api_key="sk-provider-fake", max_retries=0, timeout=10
    )
    # The exporters' metric names for DatabaseDown/RedisDown, each on its own registry
    # (path) so that its scrape job is the dependency's, as with the real exporters.
    redis_exporter, pg_exporter = Registry(), Registry()
    cache.redis_server_stats(backends.redis, dependency="redis", registry=redis_exporter)
    pg_up = pg_exporter.gauge(
        "pg_up", "1 when SELECT 1 through the app's DSN succeeded (stand-in for postgres_exporter)"
    )

    app = FastAPI(title="llm-gateway")
    app.include_router(fastapi_router(faults))

    def api_key(authorization: str | None) -> str:
        key = (authorization or "").removeprefix("Bearer ").strip()
        if not KEY.match(key):
            raise HTTPException(401, "send Authorization: Bearer sk-... (an API key)")
        return key

    def failed(reason: str, status: int, message: str) -> HTTPException:
        watchkeeper.outcome("task", ok=False, reason=reason)
        log.warning("task failed", extra={"reason": reason}, exc_info=True)
        return HTTPException(status, message)

    @app.post("/v1/tasks")
    def create_task(body: TaskIn, authorization: str | None = Header(None)) -> dict[str, Any]:
        key = api_key(authorization)
        key_id = watchkeeper.llm.key_id(key)
        watchkeeper.bind(key_id=key_id)  # on every line (an "api_key_id" field is redacted)
        window = f"llm_gateway:rate:{key_id}:{int(time.time() // 60)}"
        try:
            used = limiter.incr(window)
            if used == 1:
                limiter.expire(window, 120)
        except redis.RedisError:
            raise failed("redis", 503, "rate limiter unavailable") from None
        if used > settings.requests_per_minute:
            raise HTTPException(429, f"over {settings.requests_per_minute} requests per minute")
        client = watchkeeper.llm.wrap(provider.with_options(), api_key=key)  # per-key usage
        try:
            reply = client.chat.completions.create(
                model=body.model,
                messages=[{"role": "user", "content": body.prompt}],
                max_tokens=settings.max_tokens,
            )
        except openai.APIError:
            raise failed("upstream", 502, "the model provider failed") from None
        usage = reply.usage
        inp, out = (usage.prompt_tokens, usage.completion_tokens) if usage else (0, 0)
        cost = llm_metrics.prices.cost(reply.model, inp, out) or 0.0
        try:
            with backends.engine.begin() as conn:
                conn.execute(
                    text(
                        "INSERT INTO llm_gateway_tasks (api_key_id, model, input_tokens, "
                        "output_tokens, cost_usd) VALUES (:k, :m, :i, :o, :c)"
                    ),
                    {"k": key_id, "m": reply.model, "i": inp, "o": out, "c": cost},
                )
        except SQLAlchemyError:
            raise failed("database", 503, "task store unavailable") from None
        watchkeeper.outcome("task", ok=True)
        log.info("task done", extra={"model": reply.model, "tokens": inp + out, "cost_usd": cost})
        return {"reply": reply.choices[0].message.content, "model": reply.model, "cost_usd": cost}

    @app.get("/v1/usage")
    def usage_today(authorization: str | None = Header(None)) -> dict[str, Any]:
        key_id = watchkeeper.llm.key_id(api_key(authorization))
        try:
            with backends.engine.connect() as conn:
                tasks, tokens, cost = conn.execute(
                    text(
                        "SELECT count(*), coalesce(sum(input_tokens + output_tokens), 0), "
                        "coalesce(sum(cost_usd), 0) FROM llm_gateway_tasks "
                        "WHERE api_key_id = :k AND created_at >= date_trunc('day', now())"
                    ),
                    {"k": key_id},
                ).one()
        except SQLAlchemyError:
            raise HTTPException(503, "task store unavailable") from None
        return {"api_key_id": key_id, "tasks": tasks, "tokens": tokens, "cost_usd": cost}

    @app.get(EXPORTER_PATHS[0], include_in_schema=False)
    def postgres_exporter_standin() -> Response:
        try:
            with backends.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            pg_up.set(1)
        except SQLAlchemyError:
            pg_up.set(0)
        return Response(render(pg_exporter), media_type="text/plain; version=0.0.4")

    @app.get(EXPORTER_PATHS[1], include_in_schema=False)
    def redis_exporter_metrics() -> Response:
        return Response(render(redis_exporter), media_type="text/plain; version=0.0.4")

    return watchkeeper.instrument(
        app,
        service="llm-gateway",
        version="1.0.0",
        system_metrics=True,  # host memory for HighMemory (the guide: container memory)
        access_log=True,
        exclude_paths=EXPORTER_PATHS,
        # 0.5 s: under the generated probes' timeout (Kubernetes' default, 1 s)
        checks=[
            health.postgres(backends.engine, timeout=CHECK_TIMEOUT_S),
            health.redis(backends.redis, timeout=CHECK_TIMEOUT_S),
        ],
    )
