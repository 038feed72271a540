"""A cheaper ``LogRecord``: the same attributes with the same values, made for less.

Half of what stdlib logging spends on one line before any formatter runs is
``LogRecord.__init__``, and most of that is work whose answer never changes
between two lines: an ``os.getpid()`` system call, ``os.path.basename`` and
``splitext`` of the caller's file. ``FastLogRecord`` keeps the process id in a
cache that ``os.register_at_fork`` renews in a forked child, and the file and
module names per path (a bounded dict), and otherwise does what the stdlib does, in
the same order, so every handler and formatter (ours or not) sees the record it
expects. ``configure()`` installs it as the record factory when the factory is
still stdlib's own; ``configure(fast_records=False)`` leaves stdlib's.

Whether this Python's ``LogRecord`` is the one this class mirrors is checked at
import (``SUPPORTED``): on a Python whose record gained or lost an attribute, the
stdlib factory is kept.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

__all__ = ["SUPPORTED", "FastLogRecord", "install", "uninstall"]

_PATHS_MAX = 4_096
_paths: dict[str, tuple[str, str]] = {}
_pid = os.getpid()
_LogRecord = logging.LogRecord
_level_names = logging._levelToName  # what getLevelName() reads first
_get_level_name = logging.getLevelName
_get_ident = threading.get_ident
_current_thread = threading.current_thread
# What current_thread() reads (ident -> Thread), read here without its two Python
# frames (the function and the ``name`` property). Private, so checked: where it is
# missing every lookup misses and current_thread() answers. A thread of one of these
# classes has its name in ``_name`` (what the property returns); any other class (a
# subclass could override ``name``) asks current_thread() too.
_threads_get: Any = getattr(threading, "_active", {}).get
_PLAIN_THREADS = frozenset(
    getattr(threading, name, threading.Thread) for name in ("Thread", "_MainThread", "_DummyThread")
)
_modules = sys.modules
_time = time.time
_START = logging._startTime  # type: ignore[attr-defined]
# Python 3.13 counts the start in nanoseconds, earlier ones in seconds.
_START_S: float = _START / 1e9 if isinstance(_START, int) else _START


def _forked() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_forked)


class FastLogRecord(logging.LogRecord):
    """``logging.LogRecord`` with the process id and file names cached (see the module)."""

    def __init__(
        self,
        name: str,
        level: int,
        pathname: str,
        lineno: int,
        msg: object,
        args: Any,
        exc_info: Any,
        func: str | None = None,
        sinfo: str | None = None,
        **kwargs: Any,
    ) -> None:
        # The stdlib's steps, in its order: a record's attribute order is part of
        # what formatters (ours included) rely on.
        ct = _time()
        self.name = name
        self.msg = msg
        if args and len(args) == 1 and isinstance(args[0], Mapping) and args[0]:
            args = args[0]
        self.args = args
        self.levelname = _level_names.get(level) or _get_level_name(level)
        self.levelno = level
        self.pathname = pathname
        try:
            self.filename, self.module = _paths[pathname]
        except (KeyError, TypeError):  # a new path, or an unhashable one (not cached)
            self.filename, self.module = _file_names(pathname)
        self.exc_info = exc_info
        self.exc_text = None
        self.stack_info = sinfo
        self.lineno = lineno
        self.funcName = func  # type: ignore[assignment]  # None, as the stdlib's may be
        self.created = ct
        # int((ct - int(ct)) * 1000) + 0.0, the stdlib's, is two int() calls; for a
        # clock past 1970, floor division gives the same float for half the cost.
        self.msecs = ((ct - ct // 1) * 1000) // 1 if ct >= 0 else int((ct - int(ct)) * 1000) + 0.0
        self.relativeCreated = (ct - _START_S) * 1000
        if logging.logThreads:
            self.thread = ident = _get_ident()
            thread = _threads_get(ident)
            if type(thread) in _PLAIN_THREADS:
                self.threadName = thread._name
            else:  # not registered yet (a foreign thread), or a class of its own
                self.threadName = _current_thread().name
        else:
            self.thread = None
            self.threadName = None
        if not logging.logMultiprocessing:
            self.processName = None
        else:
            self.processName = "MainProcess"
            mp = _modules.get("multiprocessing")
            if mp is not None:
                try:
                    self.processName = mp.current_process().name
                except Exception:
                    pass
        self.process = _pid if logging.logProcesses else None
        if _TASK_NAMES:  # Python 3.12+
            self.taskName = None
            if logging.logAsyncioTasks:  # type: ignore[attr-defined,unused-ignore]
                asyncio = _modules.get("asyncio")
                if asyncio is not None:
                    try:
                        self.taskName = asyncio.current_task().get_name()
                    except Exception:
                        pass

    def __reduce__(self) -> tuple[Any, tuple[dict[str, Any]]]:
        # Pickled (a multiprocessing queue, a copy) as what it is, a plain record:
        # the receiving process needs no watchkeeper to load it.
        return logging.makeLogRecord, (dict(self.__dict__),)


def _file_names(pathname: Any) -> tuple[str, str]:
    try:
        filename = os.path.basename(pathname)
        names = (filename, os.path.splitext(filename)[0])
    except (TypeError, ValueError, AttributeError):
        return (pathname, "Unknown module")
    if type(pathname) is str:
        if len(_paths) >= _PATHS_MAX:
            _paths.clear()  # bounded: generated module paths cannot grow it
        _paths[pathname] = names
    return names


_TASK_NAMES = "taskName" in _LogRecord("", 0, "", 0, "", (), None).__dict__
_TIMES = ("created", "msecs", "relativeCreated")


def _mirrors_stdlib() -> bool:
    """Whether this Python's LogRecord sets what FastLogRecord sets, in the same order,
    to the same values (the clock's three aside)."""
    try:
        for args in (("a", 1), ({"k": 1},), ()):
            ours = FastLogRecord("n", 20, "/a/b.py", 3, "m %s", args, None, "f", None).__dict__
            theirs = _LogRecord("n", 20, "/a/b.py", 3, "m %s", args, None, "f", None).__dict__
            if list(ours) != list(theirs):
                return False
            if any(ours[k] != theirs[k] for k in theirs if k not in _TIMES):
                return False
        return True
    except Exception:
        return False


SUPPORTED = _mirrors_stdlib()
_installed_over: Any = None  # the factory install() replaced, while ours is in place


def install() -> bool:
    """Make ``FastLogRecord`` the record factory if stdlib's own is in place (a factory
    someone else installed is theirs to keep). Whether ours is now in place."""
    global _installed_over
    current = logging.getLogRecordFactory()
    if current is FastLogRecord:
        return True
    if not SUPPORTED or current is not _LogRecord:
        return False
    _installed_over = current
    logging.setLogRecordFactory(FastLogRecord)
    return True


def uninstall() -> None:
    """Put back the factory ``install()`` replaced (if ours is still the one in place)."""
    global _installed_over
    if _installed_over is not None and logging.getLogRecordFactory() is FastLogRecord:
        logging.setLogRecordFactory(_installed_over)
    _installed_over = None
