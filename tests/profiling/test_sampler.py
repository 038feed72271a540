"""The whole-process sampler sees what other threads are doing."""

from __future__ import annotations

import threading

from watchkeeper.profiling import sample_process


def spin_until(stop: threading.Event) -> None:
    while not stop.is_set():
        sum(i for i in range(1000))


def test_sampler_finds_the_busy_thread() -> None:
    stop = threading.Event()
    worker = threading.Thread(target=spin_until, args=(stop,))
    worker.start()
    try:
        report = sample_process(0.5, top=50, memory=True)
    finally:
        stop.set()
        worker.join()
    assert report.cpu_unit == "samples"
    functions = [row.function for row in report.cpu]
    assert any("spin_until" in f for f in functions), functions
    spin = next(r for r in report.cpu if "spin_until" in r.function)
    assert spin.cumulative_s >= spin.self_s
    # inclusive counts: the thread's bootstrap is on the stack of every sample of it
    assert report.peak_bytes is not None
    assert "samples" in report.text() or "own samples" in report.text()
