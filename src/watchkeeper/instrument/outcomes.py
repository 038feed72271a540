"""Business outcomes and long jobs: success rate with bounded failure reasons, and
active jobs, their duration and the bytes they processed.

    watchkeeper.outcome("verification", ok=False, reason="timeout")
    watchkeeper.declare_outcomes("verification", reasons=["timeout", "invalid_input"])

    with watchkeeper.job("analysis", dataset="sales") as run:   # also `async with`
        run.add_bytes(len(data))

    @watchkeeper.job("nightly_report")                             # or as a decorator
    def build_report() -> None: ...

Metrics:

- ``outcomes_total{operation, result="success|failure", reason}``; a reason is kept
  only if declared for its operation, or (when none are declared) among the first
  ``max_reasons`` (20) seen; the rest fold into ``other``, so free-form error text
  can never create series;
- ``jobs_active{job_name}``, ``job_duration_seconds{job_name, dataset, status}``
  (``status`` is ``success``, ``failure`` or ``cancelled``) and
  ``job_processed_bytes_total{job_name, dataset}``; datasets are bounded the same
  way (``max_datasets``, 50). The label is ``job_name``, not ``job``: Prometheus
  owns ``job`` (the scrape job).

Operations and job names are bounded too (100 each). Nothing here raises into the
application; the job's own exceptions pass through unchanged.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
from collections.abc import Callable, Iterable
from time import perf_counter
from types import TracebackType
from typing import Any, TypeVar

from watchkeeper.instrument import faults
from watchkeeper.instrument._bounded import OTHER, BoundedValues
from watchkeeper.instrument.metrics import UPDATE_LOCK
from watchkeeper.instrument.registry import REGISTRY, Registry

__all__ = ["JOB_BUCKETS", "Job", "declare_job", "declare_outcomes", "job", "outcome"]

# Jobs take from a fraction of a second to hours.
JOB_BUCKETS: tuple[float, ...] = (
    0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0,
)  # fmt: skip
MAX_NAMES = 100
DEFAULT_MAX_REASONS = 20
DEFAULT_MAX_DATASETS = 50
_EXTENSION = "outcomes"
F = TypeVar("F", bound=Callable[..., Any])


class _Metrics:
    """The outcome and job families of one registry, with their bounded label sets."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.operations = BoundedValues(MAX_NAMES)
        self.job_names = BoundedValues(MAX_NAMES)
        self.reasons: dict[str, BoundedValues] = {}
        self.datasets: dict[str, BoundedValues] = {}
        self.lock = threading.Lock()
        self.outcomes = registry.counter(
            "outcomes", "Outcomes of business operations by result and (bounded) reason.",
            ["operation", "result", "reason"],
        )  # fmt: skip
        self.active = registry.gauge("jobs_active", "Jobs running now.", ["job_name"])
        self.duration = registry.histogram(
            "job_duration_seconds", "Duration of finished jobs by dataset and status.",
            ["job_name", "dataset", "status"], buckets=JOB_BUCKETS,
        )  # fmt: skip
        self.bytes = registry.counter(
            "job_processed_bytes", "Bytes of data processed by jobs.", ["job_name", "dataset"]
        )

    @classmethod
    def of(cls, registry: Registry) -> _Metrics:
        found = registry.extensions.get(_EXTENSION)
        if isinstance(found, _Metrics):
            return found
        made = registry.extensions.setdefault(_EXTENSION, cls(registry))
        assert isinstance(made, _Metrics)
        return made

    def bounded(self, table: dict[str, BoundedValues], key: str, cap: int) -> BoundedValues:
        found = table.get(key)
        if found is None:
            with self.lock:
                found = table.setdefault(key, BoundedValues(cap))
        return found

    def reason(self, operation: str, reason: str) -> str:
        return self.bounded(self.reasons, operation, DEFAULT_MAX_REASONS).fold(reason)

    def dataset(self, job_name: str, dataset: str) -> str:
        return self.bounded(self.datasets, job_name, DEFAULT_MAX_DATASETS).fold(dataset)


def declare_outcomes(
    operation: str,
    reasons: Iterable[str] = (),
    *,
    max_reasons: int | None = None,
    registry: Registry | None = None,
) -> None:
    """Name an operation's failure reasons: only these (plus ``max_reasons`` others,
    0 by default when reasons are given) get their own series."""
    m = _Metrics.of(registry or REGISTRY)
    declared = tuple(reasons)
    cap = max_reasons if max_reasons is not None else (0 if declared else DEFAULT_MAX_REASONS)
    m.reasons[operation] = BoundedValues(cap, declared)
    for reason in declared:  # declared series exist from the start: rate() sees the first one
        m.outcomes.labels(m.operations.fold(operation), "failure", reason)


def declare_job(
    job_name: str,
    datasets: Iterable[str] = (),
    *,
    max_datasets: int | None = None,
    registry: Registry | None = None,
) -> None:
    """Name a job's datasets: only these (plus ``max_datasets`` others, 0 by default
    when datasets are given) get their own series."""
    m = _Metrics.of(registry or REGISTRY)
    declared = tuple(datasets)
    cap = max_datasets if max_datasets is not None else (0 if declared else DEFAULT_MAX_DATASETS)
    m.datasets[job_name] = BoundedValues(cap, declared)


def outcome(
    operation: str,
    ok: bool = True,
    reason: str | None = None,
    *,
    registry: Registry | None = None,
) -> None:
    """Count one outcome of ``operation``. Never raises."""
    reg = registry or REGISTRY
    try:
        m = _Metrics.of(reg)
        op = m.operations.fold(str(operation))
        why = "" if reason is None or reason == "" else m.reason(op, str(reason))
        m.outcomes.labels(op, "success" if ok else "failure", why).inc()
    except Exception as exc:
        faults.report("outcome", exc, reg)


class Job:
    """A job run: a context manager (sync or async), or a decorator that times each call."""

    def __init__(self, name: str, dataset: str | None, registry: Registry) -> None:
        self.name = name
        self.dataset = dataset
        self.registry = registry
        self.status: str | None = None  # set "failure" to mark a run failed without raising
        self._start = 0.0
        self._bytes = 0
        self._labels: tuple[str, str] = (OTHER, "")

    def add_bytes(self, count: int) -> None:
        """Count ``count`` bytes processed by this run (recorded as they come)."""
        try:
            if count < 0:
                raise ValueError(f"add_bytes takes a non-negative count, got {count}")
            m = _Metrics.of(self.registry)
            m.bytes.labels(*self._labels).inc(count)
        except Exception as exc:
            faults.report("job", exc, self.registry)

    def _begin(self) -> None:
        try:
            m = _Metrics.of(self.registry)
            name = m.job_names.fold(str(self.name))
            dataset = m.dataset(name, str(self.dataset)) if self.dataset else ""
            self._labels = (name, dataset)
            m.active.labels(name).inc()
        except Exception as exc:
            faults.report("job", exc, self.registry)
        self._start = perf_counter()

    def _end(self, exc: BaseException | None) -> None:
        elapsed = perf_counter() - self._start
        try:
            if exc is None:
                status = self.status if self.status in ("success", "failure") else "success"
            elif isinstance(exc, asyncio.CancelledError | KeyboardInterrupt):
                status = "cancelled"
            else:
                status = "failure"
            m = _Metrics.of(self.registry)
            with UPDATE_LOCK:
                m.active.labels(self._labels[0]).dec()
            m.duration.labels(*self._labels, status).observe(elapsed)
        except Exception as inner:
            faults.report("job", inner, self.registry)

    def __enter__(self) -> Job:
        self._begin()
        return self

    def __exit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._end(exc)

    async def __aenter__(self) -> Job:
        self._begin()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._end(exc)

    def __call__(self, fn: F) -> F:
        """Decorate ``fn``: every call is one run (with this job's name and dataset)."""
        name, dataset, registry = self.name, self.dataset, self.registry
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def arun(*args: Any, **kwargs: Any) -> Any:
                async with Job(name, dataset, registry):
                    return await fn(*args, **kwargs)

            return arun  # type: ignore[return-value]

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            with Job(name, dataset, registry):
                return fn(*args, **kwargs)

        return run  # type: ignore[return-value]


def job(name: str, dataset: str | None = None, *, registry: Registry | None = None) -> Job:
    """A run of the job ``name`` over ``dataset``; see the module docstring."""
    return Job(name, dataset, registry or REGISTRY)
