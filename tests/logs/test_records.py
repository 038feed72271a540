"""FastLogRecord: the stdlib's record, attribute for attribute, made for less."""

from __future__ import annotations

import asyncio
import copy
import logging
import multiprocessing
import os
import pickle
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import watchkeeper.logs as wlogs
from tests.logs.conftest import Sink
from watchkeeper.logs import records
from watchkeeper.logs.json_format import JSONFormatter
from watchkeeper.logs.records import FastLogRecord

_CLOCK = ("created", "msecs", "relativeCreated")


@pytest.fixture(autouse=True)
def _stdlib_factory() -> Iterator[None]:
    before = logging.getLogRecordFactory()
    logging.setLogRecordFactory(logging.LogRecord)
    yield
    records.uninstall()
    logging.setLogRecordFactory(before)


def _both(make: Callable[[], logging.LogRecord]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The attributes of the record ``make`` creates with stdlib's factory, then ours."""
    logging.setLogRecordFactory(logging.LogRecord)
    theirs = make()
    logging.setLogRecordFactory(FastLogRecord)
    ours = make()
    logging.setLogRecordFactory(logging.LogRecord)
    assert type(theirs) is logging.LogRecord
    assert type(ours) is FastLogRecord
    return theirs.__dict__, ours.__dict__


def _new(*args: Any) -> logging.LogRecord:
    """A record from whichever factory is in place."""
    return logging.getLogRecordFactory()(*args)


def _assert_same(theirs: dict[str, Any], ours: dict[str, Any]) -> None:
    assert list(ours) == list(theirs)  # the same attributes, in the same order
    for key, value in theirs.items():
        if key in _CLOCK:
            assert ours[key] == pytest.approx(value, abs=1_000 if key == "relativeCreated" else 1)
        elif key == "exc_info":
            assert ours[key] == value
        else:
            assert ours[key] == value, key


def test_this_python_is_supported() -> None:
    assert records.SUPPORTED


@pytest.mark.parametrize(
    ("msg", "args", "extra"),
    [
        ("order %s placed by %s", ("A-1001", "bob"), {"user_id": 42}),
        ("plain", (), None),
        ("%(user)s logged in", ({"user": "bob"},), None),  # one mapping: args becomes it
        ("empty mapping %s", ({},), None),
    ],
)
def test_records_from_a_logger_call_are_the_same(
    msg: str, args: tuple[Any, ...], extra: dict[str, Any] | None
) -> None:
    logger = logging.getLogger("test.records")

    def make() -> logging.LogRecord:
        return logger.makeRecord(
            logger.name, logging.WARNING, __file__, 7, msg, args, None, "fn", extra, "stack"
        )

    theirs, ours = _both(make)
    _assert_same(theirs, ours)
    assert ours["filename"] == "test_records.py"
    assert ours["module"] == "test_records"
    assert ours["process"] == os.getpid()


def test_exception_records_and_odd_paths_are_the_same() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        exc_info = sys.exc_info()
    for pathname in (__file__, "", "noext", "/a/b.tar.gz", 42):
        for level in (logging.ERROR, 5, 99):

            def make(path: Any = pathname, lvl: int = level) -> logging.LogRecord:
                return _new("n", lvl, path, 1, "m", (), exc_info, "f", None)

            _assert_same(*_both(make))


def test_switched_off_record_details_stay_off(monkeypatch: pytest.MonkeyPatch) -> None:
    for flag in ("logThreads", "logProcesses", "logMultiprocessing"):
        monkeypatch.setattr(logging, flag, False)
        theirs, ours = _both(lambda: _new("n", 20, "p.py", 1, "m", (), None))
        _assert_same(theirs, ours)
    assert ours["thread"] is None
    assert ours["process"] is None
    assert ours["processName"] is None


def test_thread_and_process_names_are_the_callers() -> None:
    multiprocessing.current_process().name = "Worker-7"
    seen: list[tuple[dict[str, Any], dict[str, Any]]] = []
    try:
        thread = threading.Thread(
            target=lambda: seen.append(_both(lambda: _new("n", 20, "p.py", 1, "m", (), None))),
            name="pool-3",
        )
        thread.start()
        thread.join()
    finally:
        multiprocessing.current_process().name = "MainProcess"
    theirs, ours = seen[0]
    _assert_same(theirs, ours)
    assert ours["threadName"] == "pool-3"
    assert ours["processName"] == "Worker-7"


def test_renamed_foreign_and_subclassed_threads_have_their_names() -> None:
    class Named(threading.Thread):
        @property
        def name(self) -> str:  # type: ignore[override]  # a class of its own may answer differently from _name
            return "named-by-property"

    seen: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def record_both() -> None:
        seen.append(_both(lambda: _new("n", 20, "p.py", 1, "m", (), None)))

    def renamed() -> None:
        threading.current_thread().name = "renamed-later"
        record_both()

    Named(target=record_both).start()
    plain = threading.Thread(target=renamed)
    plain.start()
    plain.join()
    done = threading.Event()

    def foreign() -> None:  # started by _thread: threading meets it first in the record
        record_both()
        done.set()

    import _thread

    _thread.start_new_thread(foreign, ())
    assert done.wait(10)
    for _ in range(100):  # the Named thread may still be running
        if len(seen) == 3:
            break
        threading.Event().wait(0.01)
    names = sorted(ours["threadName"] for _, ours in seen)
    for theirs, ours in seen:
        _assert_same(theirs, ours)
    assert names[0].startswith("Dummy-")
    assert names[1:] == ["named-by-property", "renamed-later"]


def test_msecs_is_the_stdlibs_for_any_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    import random

    rng = random.Random(7)
    clocks = [0.0, 0.0005, 0.9999999, 1.001, 1_763_800_000.999999, 1_763_800_000.1234567]
    clocks += [rng.uniform(0, 4e9) for _ in range(2_000)] + [-1.25, -0.0001]
    for clock in clocks:
        monkeypatch.setattr(records, "_time", lambda c=clock: c)
        monkeypatch.setattr(logging.time, "time", lambda c=clock: c)  # type: ignore[attr-defined]
        monkeypatch.setattr(logging.time, "time_ns", lambda c=clock: int(c * 1e9), raising=False)  # type: ignore[attr-defined]
        ours = FastLogRecord("n", 20, "p.py", 1, "m", (), None)
        theirs = logging.LogRecord("n", 20, "p.py", 1, "m", (), None)
        assert ours.created == clock
        if sys.version_info < (3, 13):  # 3.13 computes msecs from time_ns()
            assert ours.msecs == theirs.msecs, clock
            assert type(ours.msecs) is float
        assert ours.msecs == int((clock - int(clock)) * 1000) + 0.0, clock


def test_inside_an_asyncio_task_the_records_are_the_same() -> None:
    async def main() -> tuple[dict[str, Any], dict[str, Any]]:
        return _both(lambda: _new("n", 20, "p.py", 1, "m", (), None))

    _assert_same(*asyncio.run(main()))


def _child_record_pid(conn: Any) -> None:
    record = FastLogRecord("n", 20, "p.py", 1, "m", (), None)
    conn.send((record.process, os.getpid()))
    conn.close()


def test_a_forked_child_reports_its_own_pid() -> None:
    FastLogRecord("n", 20, "p.py", 1, "m", (), None)  # the parent's pid is cached
    context = multiprocessing.get_context("fork")
    parent_end, child_end = context.Pipe()
    child = context.Process(target=_child_record_pid, args=(child_end,))
    child.start()
    recorded, actual = parent_end.recv()
    child.join(30)
    assert child.exitcode == 0
    assert recorded == actual != os.getpid()


def test_the_file_name_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(records, "_PATHS_MAX", 50)
    for i in range(500):
        record = FastLogRecord("n", 20, f"/gen/mod_{i}.py", 1, "m", (), None)
        assert record.module == f"mod_{i}"
    assert len(records._paths) <= 50


def test_configure_installs_it_and_unconfigure_puts_stdlibs_back() -> None:
    import io

    wlogs.configure(format="json", stream=io.StringIO())
    assert logging.getLogRecordFactory() is FastLogRecord
    wlogs.configure(format="json", stream=io.StringIO(), fast_records=False)
    assert logging.getLogRecordFactory() is logging.LogRecord
    wlogs.configure(format="json", stream=io.StringIO())
    wlogs.unconfigure()
    assert logging.getLogRecordFactory() is logging.LogRecord


def test_a_factory_someone_else_installed_is_kept() -> None:
    import io

    def theirs(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = logging.LogRecord(*args, **kwargs)
        record.tenant = "acme"
        return record

    logging.setLogRecordFactory(theirs)
    wlogs.configure(format="json", stream=io.StringIO())
    assert logging.getLogRecordFactory() is theirs
    wlogs.unconfigure()
    assert logging.getLogRecordFactory() is theirs


def test_json_lines_are_the_same_from_either_record(sink: Sink) -> None:
    def line() -> dict[str, Any]:
        sink.logger.info("order %s for %s", "A-1", "bob", extra={"user_id": 42, "token": "x"})
        parsed = sink.last()
        del parsed["timestamp"]
        return parsed

    theirs = line()
    logging.setLogRecordFactory(FastLogRecord)
    ours = line()
    assert ours == theirs
    assert list(ours) == list(theirs)
    assert ours["user_id"] == 42
    assert ours["token"] == "[REDACTED]"


def test_the_formatter_reads_stdlib_attributes_a_subclass_of_ours_adds() -> None:
    class Tagged(FastLogRecord):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.tag = "blue"  # an attribute after __init__'s: read as an extra

    logging.setLogRecordFactory(Tagged)
    made = Sink(JSONFormatter(), "test.records.tagged")
    made.logger.info("hi", extra={"user_id": 1})
    assert made.last()["tag"] == "blue"
    assert made.last()["user_id"] == 1


def test_a_pickled_record_is_a_plain_one_with_the_same_attributes() -> None:
    record = FastLogRecord("n", 20, "/a/b.py", 3, "m %s", ("x",), None, "f", None)
    record.user_id = 42  # an extra, as makeRecord adds it
    data = pickle.dumps(record)
    assert b"watchkeeper" not in data  # loadable where watchkeeper is not installed
    loaded = pickle.loads(data)
    assert type(loaded) is logging.LogRecord
    assert list(loaded.__dict__) == list(record.__dict__)
    assert loaded.__dict__ == record.__dict__
    copied = copy.copy(record)
    assert copied.__dict__ == record.__dict__
