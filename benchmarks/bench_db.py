"""SQLAlchemy hooks: what ``instrument_sqlalchemy`` adds to a trivial query round trip.

Target (issue #4): the hooks add at most 10 % to ``SELECT 1`` against local
PostgreSQL. Variants, each an engine with one warm pooled connection held open:

- ``bare``: no instrumentation; ``bare A/A``: a second bare engine, whose ratio to
  ``bare`` shows how far the machine's noise alone moves a ratio;
- ``watchkeeper``: ``instrument_sqlalchemy(engine)`` (histogram, pool gauges, slow log);
- ``otel``: OpenTelemetry's ``SQLAlchemyInstrumentor().instrument(engine=...)`` with an
  SDK tracer provider (spans made and dropped, no exporter) — only when
  ``opentelemetry-instrumentation-sqlalchemy`` is importable. It pins older
  opentelemetry packages than the project's venv has, so it is run from a separate
  venv (see docs/benchmarks.md for the command).

Each round times ``--queries`` executions per variant
(``conn.execute(text("SELECT 1")).scalar()`` on a held connection, so the pool
checkout does not dilute the hooks' share), alternating the variants every
``--batch`` queries in rotating order. Reported: the median over rounds of each
variant's per-query wall time divided by ``bare``'s in the same round (the target),
and the same for the client process's CPU time, which is what the hooks add and is
less disturbed by other processes' load on the server side.

    python -m benchmarks.bench_db [--rounds 15] [--queries 1000] [--batch 10] [--url URL]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from time import perf_counter, process_time
from typing import Any

from benchmarks._common import machine, median, revision, table, verdict

URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TARGET = 1.10


def _otel(engine: Any) -> Callable[[], None] | None:
    """Instrument ``engine`` with OpenTelemetry's SQLAlchemy instrumentation; its undo."""
    try:
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.trace import TracerProvider
    except ImportError:
        return None
    instrumentor = SQLAlchemyInstrumentor()
    instrumentor.instrument(
        engine=engine, tracer_provider=TracerProvider(), meter_provider=MeterProvider()
    )
    undo: Callable[[], None] = instrumentor.uninstrument
    return undo


def _time(conn: Any, statement: Any, n: int) -> tuple[float, float]:
    """Wall and CPU seconds of ``n`` executions."""
    wall, cpu = perf_counter(), process_time()
    for _ in range(n):
        conn.execute(statement).scalar()
    return perf_counter() - wall, process_time() - cpu


def run(
    url: str, rounds: int, queries: int, batch: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Per-query wall and CPU seconds of each variant, one value per round."""
    from sqlalchemy import create_engine, text

    from watchkeeper.instrument.db import instrument_sqlalchemy
    from watchkeeper.instrument.registry import Registry

    # All engines exist before OpenTelemetry patches create_engine for new ones.
    variants = ("bare", "bare A/A", "watchkeeper", "otel")
    engines = {name: create_engine(url, pool_size=1) for name in variants}
    instrument_sqlalchemy(engines["watchkeeper"], registry=Registry())
    undo = _otel(engines["otel"])
    if undo is None:
        engines.pop("otel").dispose()
    statement = text("SELECT 1")
    conns = {name: eng.connect() for name, eng in engines.items()}
    wall: dict[str, list[float]] = {name: [] for name in conns}
    cpu: dict[str, list[float]] = {name: [] for name in conns}
    try:
        for conn in conns.values():  # warm: connect, prepare, fill caches
            _time(conn, statement, 200)
        names = list(conns)
        for r in range(rounds):
            # Small batches alternate the variants within the round, so a burst of
            # load from other processes lands on all of them alike.
            totals = {name: [0.0, 0.0] for name in names}
            for b in range(max(1, queries // batch)):
                k = (r + b) % len(names)
                for name in names[k:] + names[:k]:
                    w, c = _time(conns[name], statement, batch)
                    totals[name][0] += w
                    totals[name][1] += c
            for name, (w, c) in totals.items():
                wall[name].append(w / queries)
                cpu[name].append(c / queries)
    finally:
        for conn in conns.values():
            conn.close()
        if undo is not None:
            undo()
        for eng in engines.values():
            eng.dispose()
    return wall, cpu


def _ratios(times: dict[str, list[float]]) -> dict[str, float]:
    return {
        name: median([t / b for t, b in zip(values, times["bare"], strict=True)])
        for name, values in times.items()
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--url", default=URL)
    args = parser.parse_args(argv)
    wall, cpu = run(args.url, args.rounds, args.queries, args.batch)
    ratios, cpu_ratios = _ratios(wall), _ratios(cpu)
    print(machine())
    print(revision("src/watchkeeper/instrument"))
    print(
        f"{args.rounds} rounds x {args.queries} x SELECT 1 per variant, alternating "
        f"every {args.batch} queries\n"
    )
    bare_wall, bare_cpu = median(wall["bare"]), median(cpu["bare"])
    rows = [
        [
            name,
            f"{median(wall[name]) * 1e6:.1f}",
            f"{ratios[name]:.3f}",
            f"{median(cpu[name]) * 1e6:.1f}",
            f"{(median(cpu[name]) - bare_cpu) * 1e6:+.1f}",
            f"{cpu_ratios[name]:.3f}",
        ]
        for name in wall
    ]
    headers = ["variant", "wall µs/query", "wall ratio", "client CPU µs", "added CPU µs",
               "CPU ratio"]  # fmt: skip
    print(table(headers, rows))
    print(f"\n(bare round trip: {bare_wall * 1e6:.1f} µs wall, {bare_cpu * 1e6:.1f} µs client CPU)")
    ok = ratios["watchkeeper"] <= TARGET
    print(f"watchkeeper hooks ≤ {TARGET:.2f}x bare round trip (wall): {verdict(ok)}")
    if "otel" in ratios:
        wk_added = median(cpu["watchkeeper"]) - bare_cpu
        otel_added = median(cpu["otel"]) - bare_cpu
        share = f"{wk_added / otel_added:.2f}" if otel_added > 0 else "n/a"
        print(f"added client CPU, watchkeeper / OpenTelemetry: {share}")
    else:
        print("OpenTelemetry's SQLAlchemy instrumentation is not installed: no comparison")
    return 0


if __name__ == "__main__":
    sys.exit(main())
