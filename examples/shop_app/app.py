"""A small web shop on PostgreSQL and Redis, monitored the way guide 002 asks.

Flask under gunicorn (2 workers). The catalogue lives in PostgreSQL and is cached in
Redis; checkout charges a payments API and queues a confirmation email on a Redis
list that a consumer thread in each worker drains. What the guide hand-writes,
watchkeeper does here in a handful of calls:

- golden signals, error tracking, health, RUM ........ ``watchkeeper.instrument(...)``
- DB query metrics, pool usage, slow-query log ........ ``instrument_sqlalchemy``
- cache hit rate ...................................... ``cache.instrument_redis``
- queue depth and oldest-item age ..................... ``queues.track_redis_list``
- structured JSON logs ................................ ``watchkeeper.logs.configure``

Configuration (environment): ``SHOP_DATABASE_URL`` (default database ``wk_shop`` on
127.0.0.1), ``SHOP_REDIS_URL`` (default Redis db 11), ``SHOP_PAYMENTS_URL`` (the
payments API, default http://127.0.0.1:8101).
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from typing import Any

import httpx
import redis
from flask import Flask, abort, request
from sqlalchemy import Engine, create_engine, text

import watchkeeper
from examples._shared.faults import FaultSwitch, flask_blueprint
from watchkeeper import cache, health, queues

__all__ = [
    "EMAIL_QUEUE",
    "FAULTS",
    "RedisFaultSwitch",
    "create_app",
    "setup_database",
]

DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/wk_shop"
REDIS_URL = "redis://127.0.0.1:6379/11"
PAYMENTS_URL = "http://127.0.0.1:8101"

log = logging.getLogger("shop")

EMAIL_QUEUE = "shop:queue:emails"  # LPUSH by checkout, BRPOP by the consumer
CACHE_TTL_S = 60
PRODUCTS = 20

# errors: that share of API requests fails with a 500 (a bad deploy);
# slow_queries: the stock query sleeps that many seconds in PostgreSQL;
# cache_bypass: catalogue reads go to a key nothing writes (every lookup misses);
# email_worker_stalled: the queue consumers stop taking jobs.
FAULT_NAMES = ("errors", "slow_queries", "cache_bypass", "email_worker_stalled")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisFaultSwitch(FaultSwitch):
    """The shared FaultSwitch, kept in a Redis hash so every gunicorn worker sees a
    fault that one worker's ``/_faults`` endpoint turned on (the in-memory switch is
    per process). Reads are cached for 0.2 s per process."""

    def __init__(self, known: tuple[str, ...], client: redis.Redis, key: str) -> None:
        super().__init__(known)
        self._client = client
        self._key = key
        self._cached: dict[str, float] = {}
        self._read_at = 0.0

    def _read(self) -> dict[str, float]:
        now = time.monotonic()
        if now - self._read_at > 0.2:
            try:
                raw = self._client.hgetall(self._key)
                self._cached = {_text(k): float(v) for k, v in raw.items()}
            except redis.RedisError:
                pass  # faults are a test aid: keep the last known state
            self._read_at = now
        return self._cached

    def active(self, name: str) -> bool:
        return name in self._read()

    def value(self, name: str, default: float = 0.0) -> float:
        return self._read().get(name, default)

    def set(self, name: str, value: float = 1.0) -> None:
        self._check(name)
        self._client.hset(self._key, name, value)
        self._read_at = 0.0

    def clear(self, name: str) -> None:
        self._check(name)
        self._client.hdel(self._key, name)
        self._read_at = 0.0

    def snapshot(self) -> dict[str, Any]:
        self._read_at = 0.0
        return {"active": dict(self._read()), "known": sorted(self.known)}


_plain = redis.Redis.from_url(os.environ.get("SHOP_REDIS_URL", REDIS_URL), socket_timeout=2)
FAULTS = RedisFaultSwitch(FAULT_NAMES, _plain, "shop:faults")


def setup_database(url: str) -> None:
    """Create the database (if missing), the tables and the catalogue; idempotent.
    Run once before the workers start, so two workers never race on DDL."""
    from sqlalchemy.engine import make_url

    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database}
        ).first()
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE IF NOT EXISTS products (id int PRIMARY KEY, name text NOT NULL,"
                " price_cents int NOT NULL, stock int NOT NULL)"
            )
        )
        conn.execute(
            text(
                "CREATE TABLE IF NOT EXISTS orders (id bigserial PRIMARY KEY,"
                " product_id int NOT NULL REFERENCES products(id), qty int NOT NULL,"
                " total_cents int NOT NULL, status text NOT NULL,"
                " created_at timestamptz NOT NULL DEFAULT now())"
            )
        )
        conn.execute(
            text(
                "INSERT INTO products (id, name, price_cents, stock) VALUES"
                " (:id, :name, :price, 1000000) ON CONFLICT (id) DO NOTHING"
            ),
            [
                {"id": i, "name": f"product {i}", "price": 100 * i + 99}
                for i in range(1, 1 + PRODUCTS)
            ],
        )
    engine.dispose()


PAGE = """<!doctype html>
<html><head><title>shop</title><script src="/_watchkeeper/rum.js" defer></script></head>
<body><h1>shop</h1><ul id="products"></ul>
<script>
fetch("/api/products").then(r => r.json()).then(items => {
  for (const p of items) {
    const li = document.createElement("li");
    li.textContent = p.name + " " + (p.price_cents / 100).toFixed(2);
    document.getElementById("products").appendChild(li);
  }
  document.title = "shop: " + items.length + " products";
});
</script></body></html>
"""


class PaymentUnavailable(Exception):
    """The payments API did not take the charge."""


class Shop:
    """The service's parts, one per worker process."""

    def __init__(self, engine: Engine, cache_client: redis.Redis, payments_url: str) -> None:
        self.engine = engine
        self.cache = cache_client
        self.payments = httpx.Client(base_url=payments_url, timeout=2.0)
        self.rng = random.Random()

    def _cached(self, key: str, load: Any) -> Any:
        """Cache-aside through the instrumented client (GET counts a hit or a miss).
        Fault ``cache_bypass``: a bad deploy reads a key version nothing writes any more."""
        if FAULTS.active("cache_bypass"):
            key = f"{key}:v2"
            raw = self.cache.get(key)
            return json.loads(raw) if raw else load()
        raw = self.cache.get(key)
        if raw is not None:
            return json.loads(raw)
        value = load()
        self.cache.set(key, json.dumps(value), ex=CACHE_TTL_S)
        return value

    def products(self) -> list[dict[str, Any]]:
        def load() -> list[dict[str, Any]]:
            with self.engine.connect() as conn:
                rows = conn.execute(text("SELECT id, name, price_cents FROM products ORDER BY id"))
                return [dict(r._mapping) for r in rows]

        result: list[dict[str, Any]] = self._cached("shop:cache:products", load)
        return result

    def product(self, product_id: int) -> dict[str, Any] | None:
        def load() -> dict[str, Any] | None:
            with self.engine.connect() as conn:
                row = conn.execute(
                    text("SELECT id, name, price_cents FROM products WHERE id = :id"),
                    {"id": product_id},
                ).first()
                return dict(row._mapping) if row else None

        found: dict[str, Any] | None = self._cached(f"shop:cache:product:{product_id}", load)
        return found

    def stock(self, product_id: int) -> int:
        """Live stock, never cached. Fault ``slow_queries``: PostgreSQL takes that long."""
        delay = FAULTS.value("slow_queries") if FAULTS.active("slow_queries") else 0.0
        with self.engine.connect() as conn:
            value = conn.execute(
                text("SELECT p.stock FROM products p, pg_sleep(:delay) WHERE p.id = :id"),
                {"id": product_id, "delay": delay},
            ).scalar()
        return int(value or 0)

    def charge(self, order_id: int, cents: int) -> None:
        try:
            response = self.payments.post("/charge", json={"order": order_id, "cents": cents})
        except httpx.HTTPError as exc:
            raise PaymentUnavailable(f"{type(exc).__name__}: {exc}") from None
        if response.status_code != 200:
            raise PaymentUnavailable(f"HTTP {response.status_code}")

    def checkout(self, product_id: int, qty: int) -> tuple[dict[str, Any], int]:
        item = self.product(product_id)
        if item is None:
            abort(404, f"no product {product_id}")
        total = item["price_cents"] * qty
        with self.engine.begin() as conn:
            order_id = conn.execute(
                text(
                    "INSERT INTO orders (product_id, qty, total_cents, status)"
                    " VALUES (:p, :q, :t, 'new') RETURNING id"
                ),
                {"p": product_id, "q": qty, "t": total},
            ).scalar_one()
        try:
            with watchkeeper.span("process_payment", order_id=order_id):
                self.charge(order_id, total)
            status, code = "paid", 201
            watchkeeper.outcome("checkout", ok=True)
        except PaymentUnavailable as exc:
            # Degrade, do not fail: the order is kept and charged when payments return.
            status, code = "payment_pending", 202
            watchkeeper.outcome("checkout", ok=False, reason="payments_unavailable")
            log.warning("payment deferred", extra={"order_id": order_id, "error": str(exc)})
        with self.engine.begin() as conn:
            conn.execute(
                text("UPDATE orders SET status = :s WHERE id = :id"),
                {"s": status, "id": order_id},
            )
        self.enqueue_emails([{"to": f"customer-{order_id}@example.com", "order": order_id}])
        return {"order_id": order_id, "status": status, "total_cents": total}, code

    def enqueue_emails(self, jobs: list[dict[str, Any]]) -> None:
        now = time.time()
        items = [json.dumps({**job, "enqueued_at": now}) for job in jobs]
        for start in range(0, len(items), 1000):
            _plain.lpush(EMAIL_QUEUE, *items[start : start + 1000])


def _email_consumer(stop: threading.Event) -> None:
    """Drain the email queue (BRPOP, then up to 500 more at once); 'send' is a no-op."""
    while not stop.is_set():
        if FAULTS.active("email_worker_stalled"):
            stop.wait(0.2)
            continue
        try:
            first = _plain.brpop([EMAIL_QUEUE], timeout=1)
            if first is not None:
                _plain.rpop(EMAIL_QUEUE, 500)
        except redis.RedisError:
            stop.wait(1.0)


def create_app() -> Any:
    """The instrumented WSGI app (one per gunicorn worker: `examples.shop_app.app:create_app()`)."""
    watchkeeper.logs.configure(service="shop")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per payment call
    payments_url = os.environ.get("SHOP_PAYMENTS_URL", PAYMENTS_URL)
    engine = create_engine(os.environ.get("SHOP_DATABASE_URL", DATABASE_URL), pool_size=10)
    watchkeeper.instrument_sqlalchemy(engine, slow_query_threshold=0.5)
    cache_client = cache.instrument_redis(
        redis.Redis.from_url(os.environ.get("SHOP_REDIS_URL", REDIS_URL), socket_timeout=2),
        cache="catalog",
    )
    cache.redis_server_stats(_plain, dependency="cache")
    queues.track_redis_list(_plain, EMAIL_QUEUE, queue="emails")
    watchkeeper.declare_outcomes("checkout", reasons=["payments_unavailable"])
    shop = Shop(engine, cache_client, payments_url)

    app = Flask("shop")
    app.register_blueprint(flask_blueprint(FAULTS))

    def chaos() -> None:
        if FAULTS.active("errors") and shop.rng.random() < FAULTS.value("errors"):
            raise RuntimeError("inventory reservation failed")  # fault: errors

    @app.get("/")
    def page() -> str:
        return PAGE

    @app.get("/api/products")
    def list_products() -> Any:
        chaos()
        return shop.products()

    @app.get("/api/products/<int:product_id>")
    def show_product(product_id: int) -> Any:
        chaos()
        item = shop.product(product_id)
        if item is None:
            abort(404, f"no product {product_id}")
        return {**item, "stock": shop.stock(product_id)}

    @app.post("/api/orders")
    def create_order() -> Any:
        chaos()
        body = request.get_json(silent=True) or {}
        try:
            product_id, qty = int(body["product_id"]), int(body.get("qty", 1))
        except (KeyError, TypeError, ValueError):
            abort(400, 'send {"product_id": <int>, "qty": <int>}')
        return shop.checkout(product_id, qty)

    @app.post("/api/admin/newsletter")
    def newsletter() -> Any:
        """Queue one email per subscriber (a bulk send: ``?count=N``)."""
        count = min(int(request.args.get("count", "100")), 50_000)
        shop.enqueue_emails([{"to": f"subscriber-{i}@example.com"} for i in range(count)])
        return {"queued": count}, 202

    stop = threading.Event()
    threading.Thread(target=_email_consumer, args=(stop,), name="emails", daemon=True).start()

    return watchkeeper.instrument(
        app,
        service="shop",
        version="1.0.0",
        system_metrics=True,
        rum=["/"],
        checks=[
            health.postgres(engine),
            health.redis(_plain),
            health.http(f"{payments_url}/health", name="payments-api", critical=False),
        ],
    )
