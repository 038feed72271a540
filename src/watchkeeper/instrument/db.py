"""SQLAlchemy instrumentation: query duration by operation and table, errors, slow queries.

    engine = create_engine("postgresql+psycopg://...")
    watchkeeper.instrument_sqlalchemy(engine, slow_query_threshold=0.5)

Hooks SQLAlchemy's own dialect events (``do_execute``, ``do_execute_no_params``,
``do_executemany``: the cheapest place to time the driver call, see the hooks'
comment) on one engine — sync or async (an ``AsyncEngine`` is instrumented through
its ``sync_engine``) — and records, in OpenTelemetry's database semantic conventions
written the Prometheus way:

- ``db_client_operation_duration_seconds`` histogram, labels ``db_system_name``,
  ``db_namespace``, ``db_operation_name`` (select/insert/update/delete/other),
  ``db_collection_name`` (the table when the statement names it plainly, else
  empty) and ``error_type`` (empty on success; the SQLSTATE such as ``42P01`` when
  the database sent one, else the driver exception's class name);
- pool gauges at scrape time (see ``db_pool``);
- one WARNING line on the ``watchkeeper.db`` logger per query slower than the
  threshold: duration, operation, table and the statement truncated. Bound
  parameters are never logged — they are never even read.

Idempotent (instrumenting an engine twice returns the first handle) and never
raises into the application: a fault in a hook is reported and the query goes on.
One limit: a ``do_execute`` listener of someone else's registered *before* ours that
returns True (it executed the statement itself) hides that statement from us, and
ours, returning True, stops later ones — as SQLAlchemy defines these events.
"""

from __future__ import annotations

import logging
import weakref
from bisect import bisect_left
from collections.abc import Callable
from time import monotonic, perf_counter
from typing import Any

from watchkeeper.errors import ConfigurationError
from watchkeeper.instrument import faults
from watchkeeper.instrument.db_pool import pool_label, track_pool, untrack_pool
from watchkeeper.instrument.db_statement import classify
from watchkeeper.instrument.metrics import UPDATE_LOCK, Histogram, HistogramChild
from watchkeeper.instrument.registry import REGISTRY, Registry

__all__ = [
    "DB_DURATION_BUCKETS",
    "DB_LABELS",
    "SqlAlchemyInstrumentation",
    "db_duration_histogram",
    "instrument_sqlalchemy",
    "uninstrument_sqlalchemy",
]

logger = logging.getLogger("watchkeeper.db")

# semconv's advisory buckets for db.client.operation.duration (seconds).
DB_DURATION_BUCKETS: tuple[float, ...] = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0)
DB_LABELS = (
    "db_system_name",
    "db_namespace",
    "db_operation_name",
    "db_collection_name",
    "error_type",
)
DEFAULT_SLOW_QUERY_S = 1.0
DEFAULT_STATEMENT_CHARS = 200
DEFAULT_MAX_TABLES = 200
_OTHER_TABLE = "_other"
_STATEMENT_MEMO = 1024
_SLOW_LOG_INTERVAL_S = 0.1  # at most ten slow-query lines a second per engine

_handles: weakref.WeakKeyDictionary[Any, SqlAlchemyInstrumentation] = weakref.WeakKeyDictionary()


def db_duration_histogram(registry: Registry) -> Histogram:
    """The shared ``db_client_operation_duration_seconds`` family of ``registry``."""
    return registry.histogram(
        "db_client_operation_duration_seconds",
        "Duration of database client operations (OpenTelemetry db.client.operation.duration).",
        DB_LABELS,
        buckets=DB_DURATION_BUCKETS,
    )


def _error_type(exc: BaseException | None) -> str:
    """The SQLSTATE when the database sent one (same across drivers), else the class name."""
    if exc is None:
        return "_OTHER"
    for candidate in (exc, exc.__cause__):
        if candidate is None:
            continue
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(code, str) and 0 < len(code) <= 8:
            return code
    return type(exc).__qualname__[:64]


class SqlAlchemyInstrumentation:
    """The hooks of one engine; returned by ``instrument_sqlalchemy``."""

    def __init__(
        self,
        engine: Any,
        registry: Registry,
        *,
        slow_query_threshold: float | None,
        statement_max_chars: int,
        max_tables: int,
        pool_name: str | None,
    ) -> None:
        self.registry = registry
        self.slow_query_threshold = slow_query_threshold
        self.statement_max_chars = statement_max_chars
        self.max_tables = max_tables
        self._engine = weakref.ref(engine)
        url = engine.url
        self.system = str(engine.dialect.name)
        self.namespace = str(url.database or "")
        self.pool_name = pool_name or pool_label(url)
        self._family = db_duration_histogram(registry)
        self._by_statement: dict[str, HistogramChild] = {}
        self._tables: set[str] = set()
        self._last_slow_log = 0.0
        self.slow_queries_logged = 0
        dialect = engine.dialect
        self._execute = dialect.do_execute
        self._execute_no_params = dialect.do_execute_no_params
        self._executemany = dialect.do_executemany

    # -- the hooks ----------------------------------------------------------------------
    # SQLAlchemy's dialect events (do_execute, do_execute_no_params, do_executemany)
    # rather than before/after_cursor_execute + handle_error: any Connection event
    # switches SQLAlchemy onto its slower evented execution path for every statement
    # (measured: tens of µs per query on this machine), while a dialect event costs one
    # listener call. The listener runs the dialect's own method inside the timer and
    # returns True ("executed"), so the driver call is exactly what it was.
    # The three listeners repeat the same few lines on purpose: this is the per-query
    # path, and a shared helper taking *args costs more than the lines it saves.
    def do_execute(self, cursor: Any, statement: str, parameters: Any, context: Any) -> bool:
        started = perf_counter()
        try:
            self._execute(cursor, statement, parameters, context)
        except Exception as exc:
            self._failed(statement, perf_counter() - started, exc)
            raise  # the database's error, unchanged: the application's to handle
        self._succeeded(statement, perf_counter() - started)
        return True

    def do_execute_no_params(self, cursor: Any, statement: str, context: Any) -> bool:
        started = perf_counter()
        try:
            self._execute_no_params(cursor, statement, context)
        except Exception as exc:
            self._failed(statement, perf_counter() - started, exc)
            raise
        self._succeeded(statement, perf_counter() - started)
        return True

    def do_executemany(self, cursor: Any, statement: str, parameters: Any, context: Any) -> bool:
        started = perf_counter()
        try:
            self._executemany(cursor, statement, parameters, context)
        except Exception as exc:
            self._failed(statement, perf_counter() - started, exc)
            raise
        self._succeeded(statement, perf_counter() - started)
        return True

    def _succeeded(self, statement: str, elapsed: float) -> None:
        try:
            # statement text -> its child: one dict hit per query once warm.
            child = self._by_statement.get(statement)
            if child is None:
                operation, table = classify(statement)
                child = self._child(operation, table, "")
                if len(self._by_statement) >= _STATEMENT_MEMO:
                    self._by_statement.clear()  # inlined literals never repeat: start over
                self._by_statement[statement] = child
            with UPDATE_LOCK:
                child.counts[bisect_left(child.bounds, elapsed)] += 1
                child.sum += elapsed
            threshold = self.slow_query_threshold
            if threshold is not None and elapsed >= threshold:
                operation, table = classify(statement)
                self._log_slow(elapsed, operation, table, statement)
        except Exception as fault:
            faults.report("db.sqlalchemy", fault, self.registry)

    def _failed(self, statement: str, elapsed: float, exc: Exception) -> None:
        try:
            operation, table = classify(statement)
            error = _error_type(exc)
            self._child(operation, table, error).observe(elapsed)
            threshold = self.slow_query_threshold
            if threshold is not None and elapsed >= threshold:
                self._log_slow(elapsed, operation, table, statement, error)
        except Exception as fault:
            faults.report("db.sqlalchemy", fault, self.registry)

    # -- helpers ----------------------------------------------------------------------
    def _child(self, operation: str, table: str, error: str) -> HistogramChild:
        if table and table not in self._tables:
            # Tables come from statement text: bound them so generated SQL (per-tenant
            # tables, temp tables) cannot explode the series count.
            if len(self._tables) >= self.max_tables:
                table = _OTHER_TABLE
            else:
                self._tables.add(table)
        return self._family.labels(self.system, self.namespace, operation, table, error)

    def _log_slow(
        self, elapsed: float, operation: str, table: str, statement: str, error: str = ""
    ) -> None:
        now = monotonic()
        if now - self._last_slow_log < _SLOW_LOG_INTERVAL_S:
            return
        self._last_slow_log = now
        self.slow_queries_logged += 1
        text = " ".join(statement.split())  # one line, whatever the statement's layout
        if len(text) > self.statement_max_chars:
            text = text[: self.statement_max_chars] + "..."
        logger.warning(
            "slow query: %.3f s (threshold %.3f s) %s %s: %s",
            elapsed,
            self.slow_query_threshold,
            operation,
            table or "-",
            text,
            extra={
                "duration_s": round(elapsed, 6),
                "slow_threshold_s": self.slow_query_threshold,
                "db_system_name": self.system,
                "db_namespace": self.namespace,
                "db_operation_name": operation,
                "db_collection_name": table,
                "db_query_text": text,
                "error_type": error,
            },
        )

    def _listeners(self) -> list[tuple[str, Callable[..., Any]]]:
        return [
            ("do_execute", self.do_execute),
            ("do_execute_no_params", self.do_execute_no_params),
            ("do_executemany", self.do_executemany),
        ]

    def attach(self, sync_engine: Any) -> None:
        from sqlalchemy import event

        for name, fn in self._listeners():
            event.listen(sync_engine, name, fn)
        self.pool_name = track_pool(self.registry, sync_engine, self.pool_name)

    def detach(self) -> None:
        """Remove the hooks and the pool gauges (the metrics recorded so far stay)."""
        engine = self._engine()
        if engine is None:
            return
        from sqlalchemy import event

        for name, fn in self._listeners():
            if event.contains(engine, name, fn):
                event.remove(engine, name, fn)
        untrack_pool(self.registry, engine)
        _handles.pop(engine, None)


def _sync_engine(engine: Any) -> Any:
    kinds = {f"{k.__module__.split('.')[0]}.{k.__qualname__}" for k in type(engine).__mro__}
    if "sqlalchemy.AsyncEngine" in kinds:
        return engine.sync_engine
    if "sqlalchemy.Engine" in kinds:
        return engine
    raise ConfigurationError(
        f"instrument_sqlalchemy() takes a SQLAlchemy Engine or AsyncEngine, got "
        f"{type(engine).__module__}.{type(engine).__qualname__}: pass the object "
        "create_engine() or create_async_engine() returned"
    )


def instrument_sqlalchemy(
    engine: Any,
    *,
    slow_query_threshold: float | None = DEFAULT_SLOW_QUERY_S,
    statement_max_chars: int = DEFAULT_STATEMENT_CHARS,
    max_tables: int = DEFAULT_MAX_TABLES,
    pool_name: str | None = None,
    registry: Registry | None = None,
) -> SqlAlchemyInstrumentation:
    """Measure every statement ``engine`` runs and its pool; returns the hooks' handle.

    ``slow_query_threshold``: seconds above which a query logs a WARNING line on
    the ``watchkeeper.db`` logger (``None`` turns the log off); ``statement_max_chars``
    truncates the logged statement; ``max_tables`` bounds ``db_collection_name``
    (further tables fold into ``_other``); ``pool_name`` labels the pool gauges
    (default ``host:port/database``, never the credentials).
    """
    if slow_query_threshold is not None and slow_query_threshold < 0:
        raise ConfigurationError(
            f"instrument_sqlalchemy(slow_query_threshold={slow_query_threshold!r}): use "
            "seconds >= 0, or None to turn the slow-query log off"
        )
    if statement_max_chars < 1 or max_tables < 0:
        raise ConfigurationError(
            "instrument_sqlalchemy(): statement_max_chars must be >= 1 and max_tables >= 0, "
            f"got {statement_max_chars!r} and {max_tables!r}"
        )
    sync_engine = _sync_engine(engine)
    existing = _handles.get(sync_engine)
    if existing is not None:
        return existing
    handle = SqlAlchemyInstrumentation(
        sync_engine,
        registry or REGISTRY,
        slow_query_threshold=slow_query_threshold,
        statement_max_chars=statement_max_chars,
        max_tables=max_tables,
        pool_name=pool_name,
    )
    handle.attach(sync_engine)
    _handles[sync_engine] = handle
    return handle


def uninstrument_sqlalchemy(engine: Any) -> None:
    """Undo ``instrument_sqlalchemy(engine)``; a no-op for an engine never instrumented."""
    handle = _handles.get(_sync_engine(engine))
    if handle is not None:
        handle.detach()
