"""Golden-signal dashboard queries: watchkeeper vs Prometheus 2.42 on the same data.

The same OpenMetrics file (latency histograms with 12 ``le`` buckets plus request
counters by status code, every 15 s for a few hours) is backfilled into Prometheus
with promtool and imported into watchkeeper's TSDB. Both are then served as real
processes (``prometheus`` and ``watchkeeper up``) and each dashboard query runs as
a range query over the last hour at a 15 s step through both HTTP APIs, side by
side. Reported: median latency, the ratio ours/Prometheus (target <= 3x), and
resident memory per series of each server process.

Run: .venv/bin/python -m benchmarks.bench_query [--histograms 84 --hours 3 --repeat 7]
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil
from tests.monitor.promql.differential.data import T0_MS, golden_signals_dataset
from tests.support.prometheus import create_blocks, free_port, running_prometheus, wait_ready

from benchmarks._common import machine, median, table, verdict
from watchkeeper.monitor.storage import import_openmetrics, open_storage

QUERIES = {
    "request rate by route": "sum by (http_route) (rate(http_server_requests_total[5m]))",
    "error ratio": (
        'sum(rate(http_server_requests_total{http_response_status_code=~"5.."}[5m]))'
        " / sum(rate(http_server_requests_total[5m]))"
    ),
    "p99 latency": (
        "histogram_quantile(0.99, sum by (le) "
        "(rate(http_server_request_duration_seconds_bucket[5m])))"
    ),
    "p99 latency by route": (
        "histogram_quantile(0.99, sum by (le, http_route) "
        "(rate(http_server_request_duration_seconds_bucket[5m])))"
    ),
}
TARGET_RATIO = 3.0
_UP = [sys.executable, "-m", "watchkeeper.cli", "up"]


@contextmanager
def watchkeeper_up(data_dir: Path, log_path: Path) -> Iterator[tuple[str, int]]:
    """``watchkeeper up`` on a free loopback port; yields (url, pid)."""
    port = free_port()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                *_UP,
                "--data-dir",
                str(data_dir),
                "--listen",
                f"127.0.0.1:{port}",
                "--retention",
                "100y",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={k: v for k, v in os.environ.items() if k != "WATCHKEEPER_TOKEN"},
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_ready(url, process=process)
            yield url, process.pid
        finally:
            process.terminate()
            process.wait(timeout=60)


def _time_query(
    client: httpx.Client, query: str, start: float, end: float, repeat: int
) -> tuple[float, dict[str, object]]:
    params = {"query": query, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": "15"}
    body: dict[str, object] = client.get("/api/v1/query_range", params=params).json()  # warm-up
    if body.get("status") != "success":
        raise RuntimeError(f"{client.base_url}: {query}: {body}")
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        response = client.get("/api/v1/query_range", params=params)
        response.read()
        samples.append(time.perf_counter() - began)
    return median(samples) * 1000, body


def _shape(body: dict[str, object]) -> tuple[int, int]:
    data = body["data"]
    assert isinstance(data, dict)
    result = data["result"]
    return len(result), sum(len(s["values"]) for s in result)


def _rss_mib(pid: int) -> float:
    process = psutil.Process(pid)
    return float(process.memory_info().rss) / (1 << 20)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--histograms", type=int, default=84, help="12 le-buckets each")
    parser.add_argument("--hours", type=float, default=3.0)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-query-") as tmp:
        work = Path(tmp)
        began = time.perf_counter()
        dataset = golden_signals_dataset(args.histograms, args.hours)
        source = work / "data.om"
        source.write_text(dataset.text(), encoding="utf-8")
        series = args.histograms * (12 + 2 + 2)  # buckets, _count, _sum, two status codes
        bucket_series = args.histograms * 12
        print(
            f"data: {series} series ({bucket_series} _bucket series), {dataset.samples:,} samples, "
            f"{args.hours:g} h at 15 s; generated in {time.perf_counter() - began:.1f} s"
        )

        began = time.perf_counter()
        create_blocks(source, work / "prometheus" / "data")
        promtool_s = time.perf_counter() - began
        began = time.perf_counter()
        tsdb = open_storage(work / "watchkeeper")
        report = import_openmetrics(source, tsdb)
        tsdb.close()
        ours_import_s = time.perf_counter() - began
        print(
            f"import: promtool {promtool_s:.1f} s, watchkeeper {ours_import_s:.1f} s "
            f"({report.samples / ours_import_s:,.0f} samples/s)"
        )

        end = (T0_MS + int(args.hours * 3_600_000)) / 1000 - 7.5
        start = end - 3600
        rows: list[list[str]] = []
        ratios: list[float] = []
        with (
            running_prometheus(work / "prometheus" / "data", work / "prometheus") as prom_url,
            watchkeeper_up(work / "watchkeeper", work / "up.log") as (our_url, our_pid),
            httpx.Client(base_url=prom_url, timeout=120) as prom,
            httpx.Client(base_url=our_url, timeout=120) as ours,
        ):
            for name, query in QUERIES.items():
                theirs_ms, theirs_body = _time_query(prom, query, start, end, args.repeat)
                ours_ms, ours_body = _time_query(ours, query, start, end, args.repeat)
                if _shape(theirs_body) != _shape(ours_body):
                    print(
                        f"WARNING: {name}: result shapes differ: Prometheus "
                        f"{_shape(theirs_body)}, ours {_shape(ours_body)}"
                    )
                ratio = ours_ms / theirs_ms
                ratios.append(ratio)
                rows.append([name, f"{theirs_ms:.1f}", f"{ours_ms:.1f}", f"{ratio:.1f}x"])
            prom_pid = _pid_listening(prom_url)
            prom_rss = _rss_mib(prom_pid) if prom_pid else math.nan
            our_rss = _rss_mib(our_pid)
        # The same servers with no data, queried once: what the runtimes cost alone.
        create_blocks(_empty_file(work), work / "prometheus-empty" / "data")
        with (
            running_prometheus(
                work / "prometheus-empty" / "data", work / "prometheus-empty"
            ) as url,
            watchkeeper_up(work / "watchkeeper-empty", work / "up-empty.log") as (
                our_empty_url,
                pid,
            ),
        ):
            httpx.get(f"{url}/api/v1/query", params={"query": "vector(1)"})
            httpx.get(f"{our_empty_url}/api/v1/query", params={"query": "vector(1)"})
            empty_pid = _pid_listening(url)
            prom_base = _rss_mib(empty_pid) if empty_pid else math.nan
            our_base = _rss_mib(pid)

    print()
    print(machine())
    print(f"range queries over 1 h at 15 s step (241 points), median of {args.repeat}, ms")
    print(table(["query", "Prometheus 2.42", "watchkeeper", "ours/Prometheus"], rows))
    worst = max(ratios)
    met = verdict(worst <= TARGET_RATIO)
    print(f"\nworst ratio {worst:.1f}x (target <= {TARGET_RATIO:g}x): {met}")
    prom_per = (prom_rss - prom_base) * 1024 / series
    our_per = (our_rss - our_base) * 1024 / series
    print(
        f"server RSS after the queries: Prometheus {prom_rss:.0f} MiB ({prom_base:.0f} empty), "
        f"watchkeeper {our_rss:.0f} MiB ({our_base:.0f} empty)\n"
        f"RSS above an empty server per series: Prometheus {prom_per:.1f} KiB, "
        f"watchkeeper {our_per:.1f} KiB (data served from blocks, not head series; "
        "includes query working memory)"
    )


def _empty_file(work: Path) -> Path:
    path = work / "empty.om"
    path.write_text(f"# TYPE x gauge\nx 1 {T0_MS // 1000}\n# EOF\n", encoding="utf-8")
    return path


def _pid_listening(url: str) -> int | None:
    port = int(url.rsplit(":", 1)[1])
    for conn in psutil.net_connections(kind="tcp"):
        if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN:
            pid: int | None = conn.pid
            return pid
    return None


if __name__ == "__main__":
    main()
