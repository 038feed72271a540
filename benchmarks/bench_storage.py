"""The embedded TSDB: ingest rate, bytes per sample on disk, memory per series, reopen time.

The peer is the obvious alternative the issue names: SQLite with one row per
sample (``(series_id, ts, value)``, WITHOUT ROWID, primary key (series, ts)),
fed the same batches in the same run.

- ingest: 10,000 series per commit (a scrape-sized batch), counters; the TSDB
  numbers include the WAL write per commit and the amortised block cuts and
  compactions. Time is process CPU time of this thread (``time.thread_time``).
- bytes/sample: a generated but realistic 24 h of one service at 15 s
  (``storage.synthetic``: ~1,300 series - latency histograms, counters,
  process metrics, float gauges; jittered scrape times), after the head is cut
  (``flush``), i.e. every chunk closed. SQLite gets the first 2 h of the same data.
- memory/series: ``tracemalloc`` over opening the store and ingesting 10,000
  series for 63 scrapes (the head then holds 31 samples per series, the most
  it holds before a cut), label sets included; the caller keeps only series
  references, as the scraper does. A second figure runs the real scrape path
  (``TargetScraper.ingest_text`` of a 10,200-series body) and so also counts the
  scraper's cache of series keys (the exposition text of each series).
- reopen: opening that store again (series log + block footers + WAL replay).
- select: every ``_bucket`` series of the 24 h store over its last hour, right
  after reopening (cold: groups read and decoded) and again (decoded cache).

Run: ``.venv/bin/python -m benchmarks.bench_storage [--quick]``
"""

from __future__ import annotations

import argparse
import gc
import shutil
import sqlite3
import tempfile
import time
import tracemalloc
from pathlib import Path

from benchmarks._common import machine, median, table, verdict
from watchkeeper.monitor.model import Labels, Matcher, labels_from
from watchkeeper.monitor.scrape import TargetConfig, TargetScraper
from watchkeeper.monitor.storage import TSDB, open_storage
from watchkeeper.monitor.storage.synthetic import SyntheticService, synthetic_service

T0 = 1_700_000_000_000
HEAD_CHUNK_SAMPLES = 32  # TSDB's default: the head is cut at ~32 samples per series


def _series(n: int) -> list[Labels]:
    """``n`` distinct histogram-bucket series (route x method x le)."""
    out = [
        labels_from(
            {
                "__name__": "http_server_request_duration_seconds_bucket",
                "job": "api",
                "instance": f"10.0.{i // 2000}.7:8000",
                "http_route": f"/api/v1/r{i // 30}",
                "http_request_method": "GET" if i // 15 % 2 else "POST",
                "le": str(i % 15),
            }
        )
        for i in range(n)
    ]
    assert len(set(out)) == n
    return out


def bench_ingest_tsdb(series: list[Labels], batches: int) -> tuple[float, float]:
    """(samples per CPU second, samples per wall second)."""
    with tempfile.TemporaryDirectory() as tmp, open_storage(tmp) as db:
        start, wall = time.thread_time(), time.perf_counter()
        append = db.append
        for k in range(batches):
            ts = T0 + k * 15_000
            for i, labels in enumerate(series):
                append(labels, ts, float(k * (i % 7)))
            db.commit()
        n = len(series) * batches
        return n / (time.thread_time() - start), n / (time.perf_counter() - wall)


def bench_ingest_sqlite(series: list[Labels], batches: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        con = _sqlite(Path(tmp))
        ids = {labels: i for i, labels in enumerate(series)}
        start = time.thread_time()
        for k in range(batches):
            ts = T0 + k * 15_000
            rows = [(ids[labels], ts, float(k * (i % 7))) for i, labels in enumerate(series)]
            con.executemany("INSERT INTO samples VALUES (?, ?, ?)", rows)
            con.commit()
        rate = len(series) * batches / (time.thread_time() - start)
        con.close()
        return rate


def _sqlite(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(path / "db.sqlite")
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute(
        "CREATE TABLE samples (series INTEGER, ts INTEGER, value REAL, "
        "PRIMARY KEY (series, ts)) WITHOUT ROWID"
    )
    return con


def _feed(db: TSDB, svc: SyntheticService, steps: int) -> None:
    rows = svc.values.T[:steps].tolist()
    for t, row in zip(svc.timestamps[:steps].tolist(), rows, strict=True):
        for labels, value in zip(svc.labels, row, strict=True):
            db.append(labels, t, value)
        db.commit()


def _select_ms(db: TSDB, svc: SyntheticService) -> tuple[float, float, int]:
    """(first, repeated) CPU ms to select every histogram bucket series over the last hour."""
    maxt = int(svc.timestamps[-1])
    matchers = [Matcher.of("__name__", "=", "http_server_request_duration_seconds_bucket")]
    times = []
    for _ in range(5):
        start = time.thread_time()
        got = list(db.select(matchers, maxt - 3_600_000, maxt))
        times.append((time.thread_time() - start) * 1000)
    return times[0], median(times[1:]), len(got)


def bench_bytes_per_sample(
    svc: SyntheticService,
) -> tuple[float, float, float, tuple[float, float, int]]:
    """(TSDB bytes/sample, seconds to ingest, SQLite bytes/sample on the first 2 h, select)."""
    with tempfile.TemporaryDirectory() as tmp:
        with open_storage(tmp) as db:
            start = time.perf_counter()
            _feed(db, svc, svc.timestamps.size)
            db.flush()
            took = time.perf_counter() - start
            ours = db.stats()["bytes_on_disk"] / svc.samples
        with open_storage(tmp) as db:  # reopened: nothing decoded or cached yet
            select = _select_ms(db, svc)
        steps = min(480, svc.timestamps.size)
        con = _sqlite(Path(tmp))
        for k in range(steps):
            t = int(svc.timestamps[k])
            con.executemany(
                "INSERT INTO samples VALUES (?, ?, ?)",
                [(i, t, float(v)) for i, v in enumerate(svc.values[:, k])],
            )
        con.commit()
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.execute("VACUUM")
        con.close()
        sqlite_bytes = sum(p.stat().st_size for p in Path(tmp).glob("db.sqlite*"))
        return ours, took, sqlite_bytes / (steps * len(svc.labels)), select


def bench_memory(series: int) -> tuple[float, float, float, float]:
    """(bytes/series held by the store, peak bytes/series, reopen seconds,
    bytes/series held by store + scraper caches on the real scrape path)."""
    scrapes = 2 * HEAD_CHUNK_SAMPLES - 1  # the head's fullest moment: just before its 2nd cut
    tmp = tempfile.mkdtemp()
    try:
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        db = open_storage(tmp)
        # Like a scraper: label sets are handed over once, then only references are kept.
        refs = [db.ref(labels) for labels in _series(series)]
        for k in range(scrapes):
            db.append_refs(refs, T0 + k * 15_000, [float(k + i) for i in range(series)])
            db.commit()
        gc.collect()
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        db.close()
        del db, refs
        start = time.perf_counter()
        again = open_storage(tmp)
        reopen = time.perf_counter() - start
        again.close()
    finally:
        shutil.rmtree(tmp)
    return (current - base) / series, (peak - base) / series, reopen, _scrape_memory(scrapes)


def _scrape_memory(scrapes: int) -> float:
    """Store + TargetScraper (its series-key cache) for a 10,200-series target."""
    from benchmarks.bench_scrape import TEXT_TYPE, exposition

    bodies = [exposition(seed) for seed in range(1, 3)]
    with tempfile.TemporaryDirectory() as tmp:
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        db = open_storage(tmp)
        scraper = TargetScraper(db, TargetConfig("api", "http://127.0.0.1:1/metrics"))
        for k in range(scrapes):
            scraper.ingest_text(bodies[k % 2], TEXT_TYPE, T0 + k * 15_000)
        gc.collect()
        current = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        n = scraper.status.samples or 10_200
        db.close()
        return (current - base) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs (a smoke test)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    n_series = 10_000
    batches = 20 if args.quick else 100
    series = _series(n_series)
    runs = [bench_ingest_tsdb(series, batches) for _ in range(args.rounds)]
    ours, ours_wall = median([r[0] for r in runs]), median([r[1] for r in runs])
    peer = median([bench_ingest_sqlite(series, batches) for _ in range(args.rounds)])
    svc = synthetic_service(steps=960 if args.quick else 5760)
    bps, took, sqlite_bps, (sel_first, sel_again, sel_series) = bench_bytes_per_sample(svc)
    held, peak, reopen, with_scraper = bench_memory(n_series)
    hours = svc.timestamps.size * 15 / 3600
    rows = [
        [
            "ingest, 10k series/commit (samples/s)",
            f"{ours:,.0f}",
            f"{peer:,.0f}",
            f"{ours / peer:.1f}x",
            ">= 200,000",
            verdict(ours >= 200_000),
        ],
        ["  same, per wall-clock second (fsyncs of block writes included)", f"{ours_wall:,.0f}"]
        + [""] * 4,
        [
            f"bytes/sample, {hours:.0f} h x {len(svc.labels)} series at 15 s",
            f"{bps:.3f}",
            f"{sqlite_bps:.1f}",
            f"{sqlite_bps / bps:.0f}x smaller",
            "<= 2.0",
            verdict(bps <= 2.0),
        ],
        [
            "memory per active series (bytes, tracemalloc)",
            f"{held:,.0f}",
            "",
            "",
            "<= 1,024",
            verdict(held <= 1024),
        ],
        ["  peak during a cut (bytes/series)", f"{peak:,.0f}", "", "", "", ""],
        ["  store + scraper caches, real scrape path", f"{with_scraper:,.0f}", "", "", "", ""],
        ["reopen: 10k series, blocks + a full head (s)", f"{reopen:.2f}", "", "", "", ""],
        [
            f"select {sel_series:,} bucket series, last 1 h of {hours:.0f} h (ms, cold)",
            f"{sel_first:.1f}",
        ]
        + [""] * 4,
        ["  same, decoded chunks cached (ms)", f"{sel_again:.1f}"] + [""] * 4,
        [
            f"  ingest of the {hours:.0f} h data set, wall (s)",
            f"{took:.1f}",
            "",
            "",
            "",
            "",
        ],
    ]
    print(machine())
    print(table(["measure", "watchkeeper", "sqlite row/sample", "ratio", "target", ""], rows))


if __name__ == "__main__":
    main()
