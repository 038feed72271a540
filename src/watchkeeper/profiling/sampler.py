"""Whole-process sampling: what every thread is doing, every few milliseconds.

cProfile sees one thread and slows it several times; a live service has an event
loop, a thread pool and background threads. The sampler reads every thread's
stack with ``sys._current_frames()`` at a fixed interval (what py-spy does from
outside), so it costs the service one extra thread waking up ~200 times a second,
and counts, per function, the samples where it was running (own) and on the
stack (cumulative). Percentages of samples approximate shares of wall time per
thread; idle threads (blocked in a lock or select) show up as such frames.
"""

from __future__ import annotations

import os
import sys
import threading
import tracemalloc
from collections import Counter
from time import perf_counter, sleep
from types import FrameType

from watchkeeper.profiling.report import CpuRow, ProfileReport, memory_rows

__all__ = ["sample_process"]

_HERE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _where(code: object) -> str:
    filename = getattr(code, "co_filename", "?")
    line = getattr(code, "co_firstlineno", 0)
    name = getattr(code, "co_qualname", getattr(code, "co_name", "?"))
    return f"{filename}:{line}({name})"


def sample_process(
    seconds: float,
    *,
    interval_s: float = 0.005,
    top: int = 30,
    memory: bool = False,
    name: str = "process",
) -> ProfileReport:
    """Sample every thread but the caller for ``seconds``; a blocking call."""
    me = threading.get_ident()
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    started_tracemalloc = False
    if memory:
        if tracemalloc.is_tracing():
            tracemalloc.reset_peak()
        else:
            tracemalloc.start()
            started_tracemalloc = True
    start = perf_counter()
    deadline = start + seconds
    samples = 0
    try:
        while perf_counter() < deadline:
            for ident, frame in sys._current_frames().items():
                if ident == me:
                    continue
                samples += 1
                seen: set[str] = set()
                own[_where(frame.f_code)] += 1
                f: FrameType | None = frame
                while f is not None:
                    key = _where(f.f_code)
                    if key not in seen:  # recursion counts once per sample
                        seen.add(key)
                        inclusive[key] += 1
                    f = f.f_back
                del frame, f
            sleep(interval_s)
        duration = perf_counter() - start
        rows = [
            CpuRow(fn, count, float(count), float(inclusive[fn]))
            for fn, count in own.most_common()
            if not fn.startswith(_HERE)
        ][:top]
        peak, top_memory = None, []
        if memory:
            peak = tracemalloc.get_traced_memory()[1]
            snapshot = tracemalloc.take_snapshot().filter_traces(
                [
                    tracemalloc.Filter(False, tracemalloc.__file__),
                    tracemalloc.Filter(False, _HERE + "*"),
                ]
            )
            top_memory = memory_rows(snapshot, top)
        return ProfileReport(name, duration, rows, "samples", peak, top_memory)
    finally:
        if started_tracemalloc:
            tracemalloc.stop()
