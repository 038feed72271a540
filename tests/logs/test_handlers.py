"""Writing lines: streams of bytes or text, and size-based rotation of files."""

from __future__ import annotations

import io
import logging
import threading
from pathlib import Path

import orjson

from watchkeeper.logs import JSONFormatter, LineHandler, RotatingFileHandler


def _record(message: str) -> logging.LogRecord:
    return logging.LogRecord("rot", logging.INFO, __file__, 1, message, (), None)


def test_rotation_past_the_limit_keeps_backups_and_every_line_whole(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "app.log"  # the directory is made
    handler = RotatingFileHandler(path, max_bytes=2_000, backups=2, formatter=JSONFormatter())
    try:
        for i in range(100):
            handler.handle(_record(f"line {i:03d} " + "x" * 50))
    finally:
        handler.close()
    files = sorted(p.name for p in path.parent.iterdir())
    assert files == ["app.log", "app.log.1", "app.log.2"]  # older than .2 were dropped
    for name in files:
        size = (path.parent / name).stat().st_size
        assert 0 < size <= 2_000, (name, size)
    # the newest lines are in app.log, the ones before in .1, then .2: contiguous, none torn
    numbers = []
    for name in ["app.log.2", "app.log.1", "app.log"]:
        for raw in (path.parent / name).read_bytes().splitlines():
            numbers.append(int(orjson.loads(raw)["message"].split()[1]))
    assert numbers == list(range(numbers[0], 100))
    assert numbers[0] > 0  # the oldest lines were rotated away


def test_rotation_continues_an_existing_file_size(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(b"x" * 990 + b"\n")
    handler = RotatingFileHandler(path, max_bytes=1_000, backups=1, formatter=JSONFormatter())
    handler.handle(_record("next"))
    handler.close()
    assert (tmp_path / "app.log.1").read_bytes() == b"x" * 990 + b"\n"
    assert orjson.loads(path.read_bytes())["message"] == "next"


def test_no_backups_starts_the_file_over_and_zero_never_rotates(tmp_path: Path) -> None:
    one = RotatingFileHandler(tmp_path / "one.log", 300, 0, JSONFormatter())
    never = RotatingFileHandler(tmp_path / "never.log", 0, 3, JSONFormatter())
    for i in range(20):
        one.handle(_record(f"m{i}"))
        never.handle(_record(f"m{i}"))
    one.close()
    never.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["never.log", "one.log"]
    assert (tmp_path / "one.log").stat().st_size <= 300
    assert len((tmp_path / "never.log").read_bytes().splitlines()) == 20


def test_text_streams_and_foreign_formatters_work() -> None:
    text = io.StringIO()
    handler = LineHandler(text, logging.Formatter("%(levelname)s %(message)s"))
    handler.handle(_record("plain"))
    assert text.getvalue() == "INFO plain\n"


def test_threads_never_interleave_lines() -> None:
    buffer = io.BytesIO()
    handler = LineHandler(buffer, JSONFormatter())

    def write(n: int) -> None:
        for i in range(200):
            handler.handle(_record(f"{n}-{i} " + "y" * 200))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = buffer.getvalue().splitlines()
    assert len(lines) == 800
    assert all(orjson.loads(line)["level"] == "info" for line in lines)


def test_threads_writing_to_a_file_never_interleave_lines(tmp_path: Path) -> None:
    # A BufferedWriter (a file opened "ab", sys.stderr.buffer) is written without our
    # lock: its own lock must keep every line whole, longer than its buffer included.
    path = tmp_path / "app.log"
    with path.open("ab") as file:
        handler = LineHandler(file, JSONFormatter(truncate=None))

        def write(n: int) -> None:
            for i in range(100):
                handler.handle(_record(f"{n}-{i} " + "z" * (10_000 if i % 10 == 0 else 300)))

        threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(path.read_bytes().splitlines()) == 400  # flushed per line, before close
    messages = {orjson.loads(line)["message"].split()[0] for line in path.read_bytes().splitlines()}
    assert messages == {f"{n}-{i}" for n in range(4) for i in range(100)}
