"""Scraping: parse + append of a 10,000-series exposition, against prometheus_client's parser.

- parse+append (warm): ``TargetScraper.ingest_text`` of a 10,200-line text-format
  body (600 latency histograms x 17 lines) into the on-disk TSDB, values
  changing every scrape: parse, label, staleness bookkeeping, append, commit
  (WAL write). This is the steady state: every scrape after the first.
- the same body served as OpenMetrics (what prometheus_client answers to our
  Accept header).
- parse+append (cold): the first scrape of a target, when every label set is
  parsed and every series created.
- parse only: our parser (keys, values and label sets) vs
  ``prometheus_client.parser.text_string_to_metric_families`` on the same text.
- HTTP end to end: a real GET of the gzipped body from a local server on
  127.0.0.1, then ingest.

Medians of ``--rounds`` timings in CPU time of the benchmark thread
(``time.thread_time``): on a shared machine wall time also counts the moments
other processes held the CPU. The HTTP row is wall time (a server thread is
involved), so it is noisier.

Run: ``.venv/bin/python -m benchmarks.bench_scrape [--rounds 15]``
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
from prometheus_client.parser import text_string_to_metric_families

from benchmarks._common import machine, median, table, verdict
from watchkeeper.instrument._semconv import DURATION_BUCKETS
from watchkeeper.monitor.scrape import Parser, TargetConfig, TargetScraper, parse_series
from watchkeeper.monitor.storage import open_storage

# The SDK's own request-duration buckets, spelled as Go clients spell le values.
BUCKETS = [f"{b:g}" for b in DURATION_BUCKETS] + ["+Inf"]
TEXT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"


def exposition(seed: int, routes: int = 100) -> str:
    """600 histograms (routes x 2 methods x 3 codes) = 10,200 series."""
    name = "http_server_request_duration_seconds"
    lines = [f"# HELP {name} Duration of HTTP server requests.", f"# TYPE {name} histogram"]
    for r in range(routes):
        for method in ("GET", "POST"):
            for code in ("200", "404", "500"):
                labels = (
                    f'http_request_method="{method}",http_route="/api/v1/items/{r}",'
                    f'http_response_status_code="{code}"'
                )
                count = (r * 7 + seed * 13) % 1000 + seed
                for i, le in enumerate(BUCKETS):
                    lines.append(f'{name}_bucket{{{labels},le="{le}"}} {count * (i + 1) // 15}')
                lines.append(f"{name}_sum{{{labels}}} {count * 0.0123:.4f}")
                lines.append(f"{name}_count{{{labels}}} {count}")
    return "\n".join(lines) + "\n"


def _timed(fn: Callable[[], object], rounds: int) -> float:
    """Median CPU milliseconds of this thread (the machine may be shared: wall time lies)."""
    times = []
    for _ in range(rounds):
        start = time.thread_time()
        fn()
        times.append(time.thread_time() - start)
    return median(times) * 1000


def bench_ingest(
    bodies: list[str], rounds: int, content_type: str = TEXT_TYPE
) -> tuple[float, float, int]:
    """(warm ms, cold ms, series per scrape)."""
    colds = []
    with tempfile.TemporaryDirectory() as tmp, open_storage(tmp) as db:
        clock = [1_700_000_000.0]
        for r in range(3):
            scraper = TargetScraper(
                db, TargetConfig(f"job{r}", "http://127.0.0.1:1/metrics"), clock=lambda: clock[0]
            )
            start = time.thread_time()
            result = scraper.ingest_text(bodies[0], content_type, int(clock[0] * 1000))
            colds.append((time.thread_time() - start) * 1000)
        step = [0]

        def warm() -> None:
            step[0] += 1
            clock[0] += 15
            body = bodies[step[0] % len(bodies)]
            assert scraper.ingest_text(body, content_type, int(clock[0] * 1000)).error == ""

        return _timed(warm, rounds), median(colds), result.samples


def bench_parse(body: str, rounds: int) -> tuple[float, float]:
    """(ours ms, prometheus_client ms), each producing label sets and values."""

    def ours() -> None:
        cache: dict[str, object] = {}
        for key, _value, _ts in Parser().parse(body):
            if key not in cache:
                cache[key] = parse_series(key)

    def theirs() -> None:
        for family in text_string_to_metric_families(body):
            for _sample in family.samples:
                pass

    return _timed(ours, rounds), _timed(theirs, max(3, rounds // 3))


def bench_http(body: str, rounds: int) -> float:
    data = gzip.compress(body.encode())

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", TEXT_TYPE)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/metrics"
    try:
        with tempfile.TemporaryDirectory() as tmp, open_storage(tmp) as db:
            clock = [1_700_000_000.0]
            scraper = TargetScraper(db, TargetConfig("api", url), clock=lambda: clock[0])

            async def run() -> float:
                async with httpx.AsyncClient() as client:
                    await scraper.scrape(client)  # cold, not counted
                    times = []
                    for _ in range(rounds):
                        clock[0] += 15
                        start = time.perf_counter()
                        result = await scraper.scrape(client)
                        times.append(time.perf_counter() - start)
                        assert result.error == "", result.error
                    return median(times) * 1000

            return asyncio.run(run())
    finally:
        server.shutdown()
        server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    bodies = [exposition(seed) for seed in range(1, 5)]
    warm, cold, series = bench_ingest(bodies, args.rounds)
    om_bodies = [body + "# EOF\n" for body in bodies]
    om_warm, _, _ = bench_ingest(om_bodies, args.rounds, OPENMETRICS_TYPE)
    ours, theirs = bench_parse(bodies[0], args.rounds)
    http = bench_http(bodies[0], args.rounds)
    rows = [
        [
            f"parse+append, {series:,} series (ms)",
            f"{warm:.1f}",
            "",
            "",
            "<= 50",
            verdict(warm <= 50),
        ],
        [
            "  same body as OpenMetrics (ms)",
            f"{om_warm:.1f}",
            "",
            "",
            "<= 50",
            verdict(om_warm <= 50),
        ],
        ["  first scrape of a target (ms)", f"{cold:.1f}", "", "", "", ""],
        [
            "parse only: samples + label sets (ms)",
            f"{ours:.1f}",
            f"{theirs:.1f}",
            f"{theirs / ours:.1f}x faster",
            "",
            "",
        ],
        ["HTTP GET (gzip) + parse + append (ms, wall)", f"{http:.1f}", "", "", "", ""],
    ]
    print(machine())
    print(f"body: {len(bodies[0]):,} bytes, {series:,} series; median of {args.rounds} rounds,")
    print("CPU time of the benchmark thread unless marked wall")
    print(table(["measure", "watchkeeper", "prometheus_client", "ratio", "target", ""], rows))


if __name__ == "__main__":
    main()
