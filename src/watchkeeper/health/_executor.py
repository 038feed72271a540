"""Where checks run: a small pool of daemon threads and one background event loop.

Why not ``concurrent.futures.ThreadPoolExecutor``: its workers are joined at
interpreter exit, so one check hung in a socket read would hang the process's
shutdown too. A hung check's thread here is abandoned, never joined; the pool is
bounded, and a check never has more than one execution in flight (see
``checks.Check``), so hung threads cannot pile up.

The background loop runs async checks for WSGI apps, which have no loop of their
own. Both are rebuilt in a forked child (gunicorn ``--preload``), where the
parent's threads do not exist.
"""

from __future__ import annotations

import asyncio
import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

__all__ = ["MAX_WORKERS", "background_loop", "submit"]

MAX_WORKERS = 16

_lock = threading.Lock()
_jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]] | None] = queue.SimpleQueue()
_workers = 0
_idle = 0
_loop: asyncio.AbstractEventLoop | None = None


def _work() -> None:
    global _idle
    while True:
        job = _jobs.get()
        if job is None:  # pragma: no cover - not used; a hook for shutdown
            return
        fn, future = job
        if future.set_running_or_notify_cancel():
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)
        with _lock:
            _idle += 1


def submit(fn: Callable[[], Any]) -> Future[Any]:
    """Run ``fn`` on a pool thread: an idle one, else a new one, else the next to free up."""
    global _workers, _idle
    future: Future[Any] = Future()
    with _lock:
        # An idle worker is claimed here, not when it dequeues, so two quick
        # submissions never both count on the same idle thread.
        if _idle > 0:
            _idle -= 1
        elif _workers < MAX_WORKERS:
            _workers += 1
            threading.Thread(target=_work, name="watchkeeper-health", daemon=True).start()
        _jobs.put((fn, future))
    return future


def background_loop() -> asyncio.AbstractEventLoop:
    """The process's event loop for async checks called from synchronous code."""
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(
                target=loop.run_forever, name="watchkeeper-health-loop", daemon=True
            ).start()
            _loop = loop
        return _loop


def _after_fork() -> None:
    global _lock, _jobs, _workers, _idle, _loop
    _lock = threading.Lock()
    _jobs = queue.SimpleQueue()
    _workers = _idle = 0
    _loop = None  # the parent's loop thread does not exist here


os.register_at_fork(after_in_child=_after_fork)
