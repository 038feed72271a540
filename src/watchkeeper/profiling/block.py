"""``watchkeeper.profile``: profile one block or function, CPU and memory.

    with watchkeeper.profile("import_orders") as p:
        import_orders()
    print(p.report.text())

    @watchkeeper.profile(top=10)
    async def rebuild_index(): ...

CPU is cProfile (deterministic, the current thread: an async block also counts
the other tasks the loop ran meanwhile); memory is tracemalloc (peak and the
allocation sites still holding memory at the end). Each report is logged once on
logger ``watchkeeper.profile`` with the report as structured fields. Both tools
slow the profiled code down several times: profile on purpose, not always. One
CPU profile runs at a time per process; a nested or concurrent block gets memory
only and says so. Nothing here ever raises into the profiled code.
"""

from __future__ import annotations

import cProfile
import functools
import inspect
import logging
import os
import pstats
import threading
import tracemalloc
from collections.abc import Callable
from time import perf_counter
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

from watchkeeper.instrument import faults
from watchkeeper.profiling.report import ProfileReport, cpu_rows_from_stats, memory_rows

__all__ = ["profile"]

logger = logging.getLogger("watchkeeper.profile")
P = ParamSpec("P")
R = TypeVar("R")

_cpu_busy = threading.Lock()  # one cProfile at a time: they share the interpreter's hook
_HERE = os.path.dirname(os.path.abspath(__file__)) + os.sep


class profile:  # lowercase: used like a function, ``with watchkeeper.profile(...)``
    """Profile a block (``with``/``async with``) or every call of a function (decorator)."""

    def __init__(
        self,
        name: str | None = None,
        *,
        top: int = 20,
        cpu: bool = True,
        memory: bool = True,
        log: bool = True,
        on_report: Callable[[ProfileReport], None] | None = None,
    ) -> None:
        self.name = name
        self.top = max(1, min(int(top), 500))
        self.cpu = cpu
        self.memory = memory
        self.log = log
        self.on_report = on_report
        self.report: ProfileReport | None = None
        self._profiler: cProfile.Profile | None = None
        self._started_tracemalloc = False
        self._start = 0.0

    # -- as a context manager -------------------------------------------------
    def __enter__(self) -> profile:
        try:
            self._begin()
        except Exception as exc:
            faults.report("profile.start", exc)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self._finish()
        except Exception as fault:
            faults.report("profile.finish", fault)

    async def __aenter__(self) -> profile:
        return self.__enter__()

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(kind, exc, tb)

    # -- as a decorator -------------------------------------------------------
    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]:
        settings = {
            "name": self.name or fn.__qualname__,
            "top": self.top,
            "cpu": self.cpu,
            "memory": self.memory,
            "log": self.log,
            "on_report": self.on_report,
        }
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                async with profile(**settings):  # type: ignore[arg-type]
                    return await fn(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            with profile(**settings):  # type: ignore[arg-type]
                return fn(*args, **kwargs)

        return wrapper

    # -- the work ---------------------------------------------------------------
    def _begin(self) -> None:
        if self.memory:
            if tracemalloc.is_tracing():
                tracemalloc.reset_peak()
            else:
                tracemalloc.start()
                self._started_tracemalloc = True
        if self.cpu and _cpu_busy.acquire(blocking=False):
            self._profiler = cProfile.Profile()
        self._start = perf_counter()
        if self._profiler is not None:
            self._profiler.enable()  # last: profile the block, not our setup

    def _finish(self) -> None:
        profiler = self._profiler
        if profiler is not None:
            profiler.disable()
        duration = perf_counter() - self._start
        cpu_rows = []
        if profiler is not None:
            try:
                stats = pstats.Stats(profiler)
                cpu_rows = [
                    r
                    for r in cpu_rows_from_stats(stats, self.top + 1, (_HERE,))
                    if "_lsprof.Profiler" not in r.function
                ][: self.top]
            finally:
                self._profiler = None
                _cpu_busy.release()
        peak, top_memory = None, []
        if self.memory and tracemalloc.is_tracing():
            peak = tracemalloc.get_traced_memory()[1]
            snapshot = tracemalloc.take_snapshot().filter_traces(
                [
                    tracemalloc.Filter(False, tracemalloc.__file__),
                    tracemalloc.Filter(False, _HERE + "*"),
                ]
            )
            top_memory = memory_rows(snapshot, self.top)
            if self._started_tracemalloc:
                tracemalloc.stop()
                self._started_tracemalloc = False
        name = self.name or "block"
        self.report = ProfileReport(name, duration, cpu_rows, "s", peak, top_memory)
        if self.cpu and profiler is None:
            logger.info("profile %r: another CPU profile was running; memory only", name)
        if self.log:
            logger.info(
                "profile %r: %.3f s, memory peak %s bytes",
                name,
                duration,
                peak if peak is not None else "-",
                extra=self.report.fields(),
            )
        if self.on_report is not None:
            self.on_report(self.report)
