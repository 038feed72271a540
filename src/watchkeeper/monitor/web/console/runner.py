"""Running a page's queries on the in-process engine, never over HTTP to ourselves.

A page's queries run one after another in one worker thread (``run_page``), under the
API's query limiter, so a heavy page cannot starve scrapes or other requests and the
event loop stays free. A failing query becomes an error shown on its panel, not a
failed page.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import anyio.to_thread

from watchkeeper.errors import QueryError
from watchkeeper.monitor.model import Labels
from watchkeeper.monitor.promql.value import Matrix, Scalar, Value, Vector
from watchkeeper.monitor.web.deps import ApiDeps

__all__ = ["Runner", "run_page"]

log = logging.getLogger("watchkeeper.monitor.web.console")

T = TypeVar("T")


@dataclass
class Runner:
    """Instant and range queries that record errors instead of raising them."""

    deps: ApiDeps
    errors: list[tuple[str, str]] = field(default_factory=list)  # (expr, message)

    def value(self, expr: str, at_ms: int) -> Value | None:
        try:
            return self.deps.engine.instant_query(expr, at_ms)
        except QueryError as exc:
            self.errors.append((expr, str(exc)))
        except Exception as exc:  # an evaluator bug must not take the page down
            log.exception("watchkeeper console: query failed: %s", expr)
            self.errors.append((expr, f"{type(exc).__name__}: {exc}"))
        return None

    def vector(self, expr: str, at_ms: int) -> list[tuple[Labels, float]]:
        value = self.value(expr, at_ms)
        if isinstance(value, Vector):
            return [(s.labels, s.value) for s in value.samples]
        if isinstance(value, Scalar):
            return [((), value.value)]
        return []

    def by(self, expr: str, at_ms: int, label: str) -> dict[str, float]:
        """``{label value: sample value}`` of an instant vector (finite values only)."""
        out: dict[str, float] = {}
        for labels, v in self.vector(expr, at_ms):
            if math.isfinite(v):
                out[dict(labels).get(label, "")] = v
        return out

    def scalar(self, expr: str, at_ms: int) -> float | None:
        samples = self.vector(expr, at_ms)
        if samples and math.isfinite(samples[0][1]):
            return samples[0][1]
        return None

    def matrix(self, expr: str, start_ms: int, end_ms: int, step_ms: int) -> Matrix:
        try:
            return self.deps.engine.range_query(expr, start_ms, end_ms, step_ms)
        except QueryError as exc:
            self.errors.append((expr, str(exc)))
        except Exception as exc:
            log.exception("watchkeeper console: range query failed: %s", expr)
            self.errors.append((expr, f"{type(exc).__name__}: {exc}"))
        return Matrix()

    def last_error(self, expr: str) -> str:
        for e, message in reversed(self.errors):
            if e == expr:
                return message
        return ""


async def run_page(deps: ApiDeps, build: Callable[[Runner], T]) -> T:
    """``build(runner)`` in a worker thread under the API's concurrency limit."""
    runner = Runner(deps)
    return await anyio.to_thread.run_sync(lambda: build(runner), limiter=deps.limiter())
