"""Log lines per second through stdlib logging, side by side in one run.

Every variant logs the same call through a real ``logging.Logger`` (record creation,
level check, handler, formatter, write), into a sink that discards what it gets, so
the numbers are the logging pipeline and the formatter, not a disk:

    log.info("order %s placed by %s", "A-1001", "bob",
             extra={"user_id": 42, "order_id": "A-1001", "amount": 19.99})

- **watchkeeper**: what ``watchkeeper.logs.configure(format="json")`` installs (its
  ``LineHandler`` and ``JSONFormatter``: redaction and truncation on, as shipped, and
  its record factory, ``FastLogRecord``, in place only while watchkeeper's variants
  run: a python-json-logger user has stdlib's records). The no-op row is measured
  with both factories, so the part each formatter owns is its line minus the no-op
  row of its own records.
- **python-json-logger**: its ``JsonFormatter`` on a ``StreamHandler``, with the
  same four fields (asctime, levelname, name, message) plus the extras; and its
  ``OrjsonFormatter`` likewise.
- **minimal orjson**: a ``logging.Formatter`` subclass writing the same fields with
  orjson in a dozen lines (no redaction, no context): the floor of the approach.
- **structlog + orjson**: structlog's own pipeline (contextvars, level, ISO
  timestamp, ``JSONRenderer(serializer=orjson.dumps)``) into a ``BytesLogger``, and
  watchkeeper's structlog renderer, for reference (structlog bypasses stdlib).

Context injection: the watchkeeper variant again while a request context (a
request id and a bound ``user_id``) is active; the cost per line is the median of
the paired per-round differences. The target is judged on the formatter alone
(``render()`` of one record with and without the context, alternating which goes
first), where the few hundred nanoseconds are not lost in the logging call's noise.

Time is the thread's CPU time (``time.thread_time``) per line; ``--rounds`` rounds
of ``--lines`` lines per variant, variants in a rotated order each round; we report
medians, and ratios as the median of the paired per-round ratios. Every variant's
output is parsed once first, to prove it writes what it claims.

``--tuned-stdlib`` applies the logging HOWTO's "Optimization" settings (no caller,
thread or process info in records) to every variant: stdlib's own per-record cost
shrinks, which shows how much of each total is the formatter's.

``--sink devnull`` writes every variant to one real file object on ``/dev/null``
instead: a line-buffered ``TextIOWrapper`` like ``sys.stderr`` (watchkeeper and
structlog write to its ``.buffer``, as ``configure(stream=sys.stderr)`` does), so
the real C write paths and one ``write(2)`` per line (every variant flushes each
line) are in every number.

Run: ``.venv/bin/python -m benchmarks.bench_logs [--rounds 15] [--lines 20000]
[--tuned-stdlib] [--sink null|devnull]``
"""

from __future__ import annotations

import argparse
import gc
import io
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from time import thread_time
from typing import Any

import orjson
import structlog
from pythonjsonlogger.json import JsonFormatter as PJLJsonFormatter
from pythonjsonlogger.orjson import OrjsonFormatter as PJLOrjsonFormatter

import watchkeeper.logs as wlogs
from benchmarks._common import machine, median, revision, table, verdict
from watchkeeper.logs import records
from watchkeeper.logs.binding import begin_request, end_request

TARGET_RATIO = 2.0  # issue 3: >= 2x python-json-logger's lines/s
TARGET_CONTEXT_US = 1.0  # issue 3: context injection <= 1 us per line
ARGS = ("A-1001", "bob")
EXTRA = {"user_id": 42, "order_id": "A-1001", "amount": 19.99}


class NullBytes(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        return len(data)


class NullText(io.TextIOBase):
    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        return len(text)


_RESERVED = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message"}


class MinimalOrjsonFormatter(logging.Formatter):
    """The smallest honest stdlib JSON formatter: core fields + extras via orjson."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED:
                line[key] = value
        return orjson.dumps(line, default=str).decode()


@dataclass
class Variant:
    name: str
    log_one: Callable[[], None]  # emits one line
    setup: Callable[[], None] = lambda: None
    teardown: Callable[[], None] = lambda: None
    times: list[float] = field(default_factory=list)  # seconds per line, per round


def _stdlib_variant(
    name: str, handler: logging.Handler, logger_name: str, fast_records: bool = False
) -> Variant:
    logger = logging.getLogger(logger_name)
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    info = logger.info

    def log_one() -> None:
        info("order %s placed by %s", *ARGS, extra=EXTRA)

    if fast_records:  # as configure() does, for this variant's rounds only
        return Variant(name, log_one, _install_records, records.uninstall)
    return Variant(name, log_one)


def _install_records() -> None:
    if not records.install():
        raise SystemExit("bench_logs: FastLogRecord is not supported on this Python")


def _with_request(variant: Variant, name: str) -> Variant:
    token: list[Any] = []

    def setup() -> None:
        variant.setup()
        _, tok = begin_request("9f2c4e1d0b7a46e2a1c3d5e7f9081726")
        token.append(tok)
        wlogs.bind(user_id=42)

    def teardown() -> None:
        end_request(token.pop())
        variant.teardown()

    return Variant(name, variant.log_one, setup, teardown)


def _structlog_variant(name: str, processors: list[Any], sink: Any) -> Variant:
    logger = structlog.wrap_logger(
        structlog.BytesLogger(sink), processors=processors, cache_logger_on_first_use=True
    )
    info = logger.info

    def log_one() -> None:
        info("order A-1001 placed by bob", user_id=42, order_id="A-1001", amount=19.99)

    return Variant(name, log_one)


def build(sink_bytes: Any, sink_text: Any) -> list[Variant]:
    pjl_fmt = "%(asctime)s %(levelname)s %(name)s %(message)s"
    wk = _stdlib_variant(
        "watchkeeper",
        wlogs.LineHandler(sink_bytes, wlogs.JSONFormatter()),
        "bench.wk",
        fast_records=True,
    )
    structlog_std = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.JSONRenderer(serializer=orjson.dumps),
    ]
    return [
        _stdlib_variant("stdlib logging alone (no-op handler)", _NoOpHandler(), "bench.noop"),
        _stdlib_variant("stdlib logging alone, FastLogRecord", _NoOpHandler(), "bench.noopf", True),
        wk,
        _with_request(wk, "watchkeeper, request context"),
        _stdlib_variant(
            "python-json-logger (json)",
            _stream(sink_text, PJLJsonFormatter(pjl_fmt)),
            "bench.pjl",
        ),
        _stdlib_variant(
            "python-json-logger (orjson)",
            _stream(sink_text, PJLOrjsonFormatter(pjl_fmt)),
            "bench.pjlo",
        ),
        _stdlib_variant(
            "minimal orjson formatter", _stream(sink_text, MinimalOrjsonFormatter()), "bench.min"
        ),
        _structlog_variant("structlog + orjson (native)", structlog_std, sink_bytes),
        _structlog_variant(
            "watchkeeper structlog renderer (native)", wlogs.structlog_processors(), sink_bytes
        ),
    ]


class _NoOpHandler(logging.Handler):
    """Takes the record and does nothing: what stdlib logging costs before any formatter."""

    def handle(self, record: logging.LogRecord) -> bool:
        return True

    def emit(self, record: logging.LogRecord) -> None:
        pass


def _stream(sink: Any, formatter: logging.Formatter) -> logging.Handler:
    handler = logging.StreamHandler(sink)
    handler.setFormatter(formatter)
    return handler


def check_outputs() -> list[str]:
    """Run every variant once into real buffers and parse what it wrote."""
    raw, text = io.BytesIO(), io.StringIO()
    notes = []
    for variant in build(raw, text)[2:]:
        raw.seek(0)
        raw.truncate()
        text.seek(0)
        text.truncate()
        variant.setup()
        try:
            variant.log_one()
        finally:
            variant.teardown()
        out = raw.getvalue() or text.getvalue().encode()
        line = orjson.loads(out)
        assert line.get("user_id") == 42, (variant.name, line)
        assert "A-1001" in str(line.get("message", line.get("event"))), (variant.name, line)
        if variant.name.startswith("watchkeeper"):
            assert line["timestamp"].endswith("Z"), line
        if "request context" in variant.name:
            assert line["request_id"] == "9f2c4e1d0b7a46e2a1c3d5e7f9081726", line
        notes.append(f"{variant.name}: {len(out)} bytes/line, fields {sorted(line)}")
    return notes


def run(rounds: int, lines: int, sink: str = "null") -> list[Variant]:
    if sink == "devnull":
        text: Any = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 (process-long)
        text.reconfigure(line_buffering=True)  # as sys.stderr is
        variants = build(text.buffer, text)
    else:
        variants = build(NullBytes(), NullText())
    for variant in variants:  # warm up
        variant.setup()
        for _ in range(2_000):
            variant.log_one()
        variant.teardown()
    for r in range(rounds):
        order = variants[r % len(variants) :] + variants[: r % len(variants)]
        for variant in order:
            log_one = variant.log_one
            variant.setup()
            gc.collect()
            start = thread_time()
            for _ in range(lines):
                log_one()
            variant.times.append((thread_time() - start) / lines)
            variant.teardown()
    return variants


def context_cost(rounds: int, lines: int) -> tuple[float, float]:
    """µs per line that a request context adds to rendering one record, measured on
    the formatter alone (less noise than through the whole logging call): the median
    and the minimum of the paired per-round differences."""
    formatter = wlogs.JSONFormatter()
    record = logging.getLogger("bench.ctx").makeRecord(
        "bench.ctx", logging.INFO, __file__, 1, "order %s placed by %s", ARGS, None, extra=EXTRA
    )
    render = formatter.render

    def timed() -> float:
        start = thread_time()
        for _ in range(lines):
            render(record)
        return (thread_time() - start) / lines

    diffs = []
    for r in range(rounds):
        gc.collect()
        bare_first = r % 2 == 0
        bare = timed() if bare_first else 0.0
        _, token = begin_request("9f2c4e1d0b7a46e2a1c3d5e7f9081726")
        wlogs.bind(user_id=42)
        with_ctx = timed()
        end_request(token)
        if not bare_first:
            bare = timed()
        diffs.append((with_ctx - bare) * 1e6)
    return median(diffs), min(diffs)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--lines", type=int, default=20_000)
    parser.add_argument(
        "--tuned-stdlib",
        action="store_true",
        help="apply the logging HOWTO's 'Optimization' settings for every variant "
        "(no caller, thread or process info in records)",
    )
    parser.add_argument(
        "--sink",
        choices=("null", "devnull"),
        default="null",
        help="null: in-memory sinks that discard; devnull: one real file object on /dev/null",
    )
    args = parser.parse_args(argv)
    if args.tuned_stdlib:
        # Documented in the logging HOWTO ("Optimization"); the same for every variant.
        logging._srcfile = None
        logging.logThreads = False
        logging.logProcesses = False
        logging.logMultiprocessing = False
        print(
            "stdlib tuned: logging._srcfile = None, logThreads/logProcesses/"
            "logMultiprocessing = False (all variants)"
        )
    print(
        f"bench_logs: {args.rounds} rounds x {args.lines} lines per variant, thread CPU time, "
        f"sink {args.sink}"
    )
    print(machine())
    print(revision("src/watchkeeper/logs"))
    print()
    for note in check_outputs():
        print("checked", note)
    print()
    variants = {v.name: v for v in run(args.rounds, args.lines, args.sink)}
    wk = variants["watchkeeper"]
    rows = []
    for v in variants.values():
        per_line = median(v.times)
        paired = median([w / t for w, t in zip(v.times, wk.times, strict=True)])
        rows.append([
            v.name, f"{1 / per_line / 1000:,.0f}k", f"{per_line * 1e6:.2f}",
            f"{1 / paired:.2f}x",
        ])  # fmt: skip
    print(table(["variant", "lines/s", "µs/line", "watchkeeper vs this"], rows))
    print()
    pjl = variants["python-json-logger (json)"]
    ratio = median([p / w for p, w in zip(pjl.times, wk.times, strict=True)])
    noop = variants["stdlib logging alone (no-op handler)"]
    noop_fast = variants["stdlib logging alone, FastLogRecord"]
    own = median([
        (p - n) / (w - f)
        for p, w, n, f in zip(pjl.times, wk.times, noop.times, noop_fast.times, strict=True)
    ])  # fmt: skip
    print(
        f"formatter + handler alone (each minus the no-op handler on its records, same round): "
        f"python-json-logger / watchkeeper = {own:.2f}x"
    )
    ctx = variants["watchkeeper, request context"]
    extra_us = median([(c - w) * 1e6 for c, w in zip(ctx.times, wk.times, strict=True)])
    best_us = (min(ctx.times) - min(wk.times)) * 1e6
    print(
        f"target: >= {TARGET_RATIO:.0f}x python-json-logger's lines/s: {ratio:.2f}x "
        f"{verdict(ratio >= TARGET_RATIO)}"
    )
    alone, alone_min = context_cost(args.rounds, args.lines)
    print(f"context injection through logging: {extra_us:.2f} µs/line (best rounds {best_us:.2f})")
    print(
        f"target: context injection <= {TARGET_CONTEXT_US:.0f} µs/line, on the formatter alone "
        f"(request_id + 1 bound field, paired rounds): {alone:.2f} µs (min {alone_min:.2f}) "
        f"{verdict(alone <= TARGET_CONTEXT_US)}"
    )


if __name__ == "__main__":
    main()
