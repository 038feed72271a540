"""What the HTTP API reads: the engine surface and the injected callables.

``server.py`` fills an ``ApiDeps`` with the real storage, engine, scrape status and
(later) rules; tests fill it with stubs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio

from watchkeeper.monitor.model import Queryable
from watchkeeper.monitor.promql.value import Matrix, Value
from watchkeeper.monitor.web.metrics import MonitorMetrics
from watchkeeper.monitor.web.targets import TargetView

__all__ = ["ApiDeps", "QueryEngine"]


class QueryEngine(Protocol):
    """The evaluator's surface the API uses (``watchkeeper.monitor.promql.Engine``)."""

    def instant_query(self, expr: str, time_ms: int) -> Value: ...

    def range_query(self, expr: str, start_ms: int, end_ms: int, step_ms: int) -> Matrix: ...


@dataclass
class ApiDeps:
    """Everything the API reads; the defaults describe a monitor scraping nothing."""

    engine: QueryEngine
    storage: Queryable
    targets: Callable[[], Sequence[TargetView]] = lambda: ()
    ready: Callable[[], bool] = lambda: True
    # Prometheus-shaped rule groups and firing/pending alerts, from the rules manager
    # once it is wired; empty until then (Grafana's alert views ask for them).
    rule_groups: Callable[[], list[dict[str, Any]]] = list
    alerts: Callable[[], list[dict[str, Any]]] = list
    # Rule files that failed to load (their last good rules keep running): API warnings.
    rule_warnings: Callable[[], list[str]] = list
    metrics: MonitorMetrics = field(default_factory=MonitorMetrics)
    now_ms: Callable[[], int] = lambda: int(time.time() * 1000)
    max_concurrent_queries: int = 4
    _limiter: anyio.CapacityLimiter | None = field(default=None, init=False, repr=False)

    def limiter(self) -> anyio.CapacityLimiter:
        # Created lazily: a CapacityLimiter belongs to the event loop that first uses it.
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.max_concurrent_queries)
        return self._limiter
