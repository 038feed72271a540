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
import tempfile
import time
from pathlib import Path

import httpx
import psutil
from tests.monitor.promql.differential.data import T0_MS, golden_signals_dataset
from tests.support.prometheus import create_blocks, running_prometheus
from tests.support.watchkeeper import watchkeeper_up

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
_RETAIN = ("--retention", "100y")  # the imported data is years old


def _get(client: httpx.Client, params: dict[str, str]) -> tuple[float, dict[str, object]]:
    began = time.perf_counter()
    response = client.get("/api/v1/query_range", params=params)
    body: dict[str, object] = response.json()
    elapsed = time.perf_counter() - began
    if body.get("status") != "success":
        raise RuntimeError(f"{client.base_url}: {params['query']}: {body}")
    return elapsed, body


def _time_query(
    prom: httpx.Client, ours: httpx.Client, query: str, start: float, end: float, repeat: int
) -> tuple[float, float, dict[str, object], dict[str, object]]:
    """Median ms of each server; runs alternate so load on the shared machine hits both."""
    params = {"query": query, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": "15"}
    _, theirs_body = _get(prom, params)  # warm-up
    _, ours_body = _get(ours, params)
    theirs, mine = [], []
    for _ in range(repeat):
        theirs.append(_get(prom, params)[0])
        mine.append(_get(ours, params)[0])
    return median(theirs) * 1000, median(mine) * 1000, theirs_body, ours_body


def _shape(body: dict[str, object]) -> tuple[int, int]:
    data = body["data"]
    assert isinstance(data, dict)
    result = data["result"]
    return len(result), sum(len(s["values"]) for s in result)


def _rss_mib(pid: int) -> float:
    process = psutil.Process(pid)
    return float(process.memory_info().rss) / (1 << 20)


def _import_both(source: Path, work: Path) -> None:
    began = time.perf_counter()
    create_blocks(source, work / "prometheus" / "data")
    promtool_s = time.perf_counter() - began
    began = time.perf_counter()
    tsdb = open_storage(work / "watchkeeper")
    report = import_openmetrics(source, tsdb)
    tsdb.close()
    ours_s = time.perf_counter() - began
    print(
        f"import: promtool {promtool_s:.1f} s, watchkeeper {ours_s:.1f} s "
        f"({report.samples / ours_s:,.0f} samples/s)"
    )


def _servers_rss(work: Path, name: str, query: str) -> tuple[float, float]:
    """RSS (MiB) of Prometheus and ``watchkeeper up`` serving ``work/<name>`` after ``query``."""
    prom_dir, our_dir = work / f"prometheus{name}", work / f"watchkeeper{name}"
    with (
        running_prometheus(prom_dir / "data", prom_dir) as prom_url,
        watchkeeper_up(our_dir, *_RETAIN, log_path=work / f"up{name}.log") as (our_url, ours),
    ):
        httpx.get(f"{prom_url}/api/v1/query", params={"query": query}, timeout=120)
        httpx.get(f"{our_url}/api/v1/query", params={"query": query}, timeout=120)
        prom_pid = _pid_listening(prom_url)
        return (_rss_mib(prom_pid) if prom_pid else math.nan), _rss_mib(ours.pid)


def _time_both(work: Path, start: float, end: float, repeat: int) -> list[tuple[str, float, float]]:
    timings = []
    with (
        running_prometheus(work / "prometheus" / "data", work / "prometheus") as prom_url,
        watchkeeper_up(work / "watchkeeper", *_RETAIN, log_path=work / "up.log") as (our_url, _),
        httpx.Client(base_url=prom_url, timeout=120) as prom,
        httpx.Client(base_url=our_url, timeout=120) as ours,
    ):
        for name, query in QUERIES.items():
            theirs_ms, ours_ms, theirs_body, ours_body = _time_query(
                prom, ours, query, start, end, repeat
            )
            if _shape(theirs_body) != _shape(ours_body):
                print(
                    f"WARNING: {name}: result shapes differ: Prometheus "
                    f"{_shape(theirs_body)}, ours {_shape(ours_body)}"
                )
            timings.append((name, theirs_ms, ours_ms))
    return timings


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
        print(
            f"data: {series} series ({args.histograms * 12} _bucket series), "
            f"{dataset.samples:,} samples, {args.hours:g} h at 15 s; "
            f"generated in {time.perf_counter() - began:.1f} s"
        )
        _import_both(source, work)
        end = (T0_MS + int(args.hours * 3_600_000)) / 1000 - 7.5
        timings = _time_both(work, end - 3600, end, args.repeat)
        loaded = _servers_rss(work, "", QUERIES["p99 latency by route"])
        # The same servers with no data, queried once: what the runtimes cost alone.
        create_blocks(_empty_file(work), work / "prometheus-empty" / "data")
        empty = _servers_rss(work, "-empty", "vector(1)")

    print()
    print(machine())
    print(f"range queries over 1 h at 15 s step (241 points), median of {args.repeat}, ms")
    rows = [[n, f"{p:.1f}", f"{o:.1f}", f"{o / p:.1f}x"] for n, p, o in timings]
    print(table(["query", "Prometheus 2.42", "watchkeeper", "ours/Prometheus"], rows))
    worst = max(o / p for _, p, o in timings)
    met = verdict(worst <= TARGET_RATIO)
    print(f"\nworst ratio {worst:.1f}x (target <= {TARGET_RATIO:g}x): {met}")
    per = [(full - base) * 1024 / series for full, base in zip(loaded, empty, strict=True)]
    print(
        f"server RSS after a query over all series: Prometheus {loaded[0]:.0f} MiB "
        f"({empty[0]:.0f} empty), watchkeeper {loaded[1]:.0f} MiB ({empty[1]:.0f} empty)\n"
        f"RSS above an empty server per series: Prometheus {per[0]:.1f} KiB, "
        f"watchkeeper {per[1]:.1f} KiB (data served from blocks, not head series; "
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
