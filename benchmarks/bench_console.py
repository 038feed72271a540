"""The web console's page budget: Overview (10 services) and Service page render time,
HTML plus all chart data, against 24 h of scraped data; and how 10,000-point series
stay smooth (server-side min/max per pixel column, then uPlot in headless chromium).

Data: 10 synthetic services (``storage.synthetic``: latency histograms per route,
method and status, process metrics, queues; realistic jittered 15 s scrapes) for the
last 24 h, appended straight into a fresh TSDB; one service has a spec with two SLOs,
so the overview and SLO pages evaluate their 30 d budget queries too. Pages are
requested through the console's real ASGI app (routes, queries on the in-process
engine, Jinja rendering, response) with an in-process client, each after one warm-up.
Target: <= 300 ms per page.

The smoothness part times uPlot drawing 10 series of 10,000 points each, raw and cut
to 2 points per pixel column of a 1,200 px chart (what the console sends), in Debian's
headless chromium (Playwright, the system browser): a frame is 16.7 ms.

Run: .venv/bin/python -m benchmarks.bench_console [--services 10 --routes 3 --hours 24]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson
from starlette.applications import Starlette
from starlette.testclient import TestClient

from benchmarks._common import machine, median, table, verdict
from watchkeeper.monitor.model import labels_from
from watchkeeper.monitor.server import build_engine
from watchkeeper.monitor.storage import open_storage
from watchkeeper.monitor.storage.synthetic import synthetic_service
from watchkeeper.monitor.web.console import ConsoleContext, console_routes
from watchkeeper.monitor.web.console.charts import downsample
from watchkeeper.monitor.web.deps import ApiDeps
from watchkeeper.spec import load_spec

TARGET_MS = 300.0
FRAME_MS = 1000 / 60
STATIC = Path(__file__).resolve().parents[1] / "src/watchkeeper/monitor/web/console/static"
SPEC = """\
service: svc-0
targets: ["127.0.0.1:9/metrics"]
slos:
  - name: availability
    objective: 99.9
    sli: {kind: availability}
  - name: latency
    objective: 99
    sli: {kind: latency, threshold: 0.5}
"""


def build_data(data_dir: Path, services: int, routes: int, hours: float, end_ms: int) -> int:
    """``services`` synthetic services scraped every 15 s for ``hours`` up to ``end_ms``."""
    steps = int(hours * 240)
    start = end_ms - steps * 15_000
    db = open_storage(data_dir, retention_seconds=None)
    batches = []
    for s in range(services):
        svc = synthetic_service(routes=routes, steps=steps, start_ms=start, seed=s + 1)
        refs = []
        for labels in svc.labels:
            named = dict(labels) | {"job": f"svc-{s}", "instance": f"10.0.{s}.1:8000"}
            refs.append(db.ref(labels_from(named)))
        batches.append((refs, svc.timestamps, np.ascontiguousarray(svc.values.T)))
    samples = 0
    for i in range(steps):
        for refs, ts, values in batches:
            samples += db.append_refs(refs, int(ts[i]), values[i].tolist())
        db.commit()
    db.close()
    return samples


def record_rules(data_dir: Path, services: int, spec_path: Path, end_ms: int, hours: float) -> int:
    """What the rules engine records from each service's generated rules, every minute
    (every 5 minutes for the SLO budget): the latency quantiles the console prefers."""
    from watchkeeper.generate.slo import error_ratio_expr
    from watchkeeper.monitor.web.console.quantiles import quantiles_from_buckets

    db = open_storage(data_dir, retention_seconds=None)
    engine = build_engine(db)
    start = end_ms - int(hours * 3600_000) + 300_000
    start -= start % 60_000
    end = end_ms - end_ms % 60_000
    written = 0

    def record(name: str, job: str, points: list[tuple[int, float]]) -> int:
        labels = labels_from({"__name__": name, "job": job, "service": job})
        return sum(db.append(labels, t, v) for t, v in points)

    for s in range(services):
        job = f"svc-{s}"
        count = f'http_server_request_duration_seconds_count{{job="{job}"}}'
        errors = count.replace("}", ', http_response_status_code=~"5.."}')
        for name, expr in (
            ("service:http_server_requests:rate5m", f"sum by (job) (rate({count}[5m]))"),
            (
                "service:http_server_request_errors:ratio_rate5m",
                f"sum by (job) (rate({errors}[5m])) / sum by (job) (rate({count}[5m]))",
            ),
        ):
            for series in engine.range_query(expr, start, end, 60_000).series:
                written += record(name, job, series.points)
        buckets = f'http_server_request_duration_seconds_bucket{{job="{job}"}}'
        rates = engine.range_query(f"sum by (job, le) (rate({buckets}[5m]))", start, end, 60_000)
        for series in quantiles_from_buckets(rates, start, end, 60_000).series:
            q = dict(series.labels)["q"]
            name = f"service:http_server_request_duration_seconds:{q}_rate5m"
            written += record(name, job, series.points)
    spec = load_spec(spec_path)
    for slo in spec.slos:
        ids = {"service": spec.service, "slo": slo.name}
        windows = sorted({w for b in slo.burn_windows for w in (b.long, b.short)})
        for w in windows:  # every 2 minutes (the engine looks back 5)
            name = f"slo:sli_error:ratio_rate{w}"
            labels = labels_from({"__name__": name, **ids})
            for series in engine.range_query(
                error_ratio_expr(spec, slo, w), start, end, 120_000
            ).series:
                written += sum(db.append(labels, t, v) for t, v in series.points)
        err = engine.range_query(
            error_ratio_expr(spec, slo, slo.window, "increase"), start, end, 300_000
        )
        period = labels_from({"__name__": f"slo:sli_error:ratio_increase{slo.window}", **ids})
        budget = labels_from({"__name__": "slo:error_budget_remaining:ratio", **ids})
        for series in err.series:
            for t, v in series.points:
                written += db.append(period, t, v)
                written += db.append(budget, t, 1 - v / float(slo.budget))
    db.commit()
    db.close()
    return written


def time_pages(
    client: TestClient, paths: list[str], repeat: int
) -> list[tuple[str, float, float, int]]:
    """(path, median wall ms, median CPU ms of this process, bytes) per page. CPU time
    counts every thread (the handler's and the query worker's) and, unlike wall time,
    not the time other processes of a busy machine hold the cores."""
    out = []
    for path in paths:
        client.get(path)  # warm-up: template compilation, first-touch of chunks
        times, cpu, size = [], [], 0
        for _ in range(repeat):
            started, cpu_started = time.perf_counter(), time.process_time()
            r = client.get(path)
            times.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - cpu_started) * 1000)
            assert r.status_code == 200, (path, r.status_code, r.text[:500])
            assert "quer" not in r.text.split("<main>")[0] or "failed</strong>" not in r.text
            size = len(r.content)
        out.append((path, median(times), median(cpu), size))
    return out


def smoothness(points: int, series: int, width: int) -> list[tuple[str, int, float, float]]:
    """uPlot draw time in headless chromium: raw vs min/max per pixel column."""
    from playwright.sync_api import sync_playwright

    rng = np.random.default_rng(7)
    xs = np.arange(points, dtype=np.float64) * 15 + 1.7e9
    ys = np.cumsum(rng.normal(0, 1, (series, points)), axis=1) + 100
    cut_x, cut_y = downsample(xs, ys, width)
    uplot = (STATIC / "vendor/uplot/uPlot.iife.min.js").read_text()
    results = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True)
        try:
            page = browser.new_page(viewport={"width": width + 100, "height": 600})
            page.set_content("<div id=c></div>")
            page.add_script_tag(content=uplot)
            for name, x, y in (("raw", xs, ys), ("downsampled", cut_x, cut_y)):
                data = [x.tolist(), *[row.tolist() for row in y]]
                ms = page.evaluate(
                    """([data, width]) => {
                      const times = [];
                      for (let k = 0; k < 5; k++) {
                        const el = document.getElementById('c');
                        el.innerHTML = '';
                        const series = [{}].concat(data.slice(1).map(() => ({stroke: '#36f'})));
                        const t0 = performance.now();
                        const u = new uPlot({width, height: 300, series}, data, el);
                        u.redraw(false, true);
                        el.querySelector('canvas').getContext('2d').getImageData(0, 0, 1, 1);
                        times.push(performance.now() - t0);
                        u.destroy();
                      }
                      times.sort((a, b) => a - b);
                      return times[2];
                    }""",
                    [data, width],
                )
                kib = len(orjson.dumps(data)) / 1024
                results.append((name, len(x), kib, float(ms)))
        finally:
            browser.close()
    return results


def main(argv: list[str] | None = None) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-console-"))
    try:
        _main(argv, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)  # a --data-dir given is kept


def _main(argv: list[str] | None, work: Path) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=10)
    parser.add_argument("--routes", type=int, default=3)
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--data-dir", type=Path, help="reuse (or create) this data dir")
    parser.add_argument("--skip-browser", action="store_true")
    parser.add_argument(
        "--no-rules",
        action="store_true",
        help="no recorded rule series: every quantile from the raw buckets",
    )
    args = parser.parse_args(argv)
    print(machine())
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    data_dir = args.data_dir or work / "data"
    end_ms = int(time.time() * 1000)
    spec_path = work / "watchkeeper.yaml"
    spec_path.write_text(SPEC)
    if not (data_dir / ".built").exists():
        started = time.perf_counter()
        samples = build_data(data_dir, args.services, args.routes, args.hours, end_ms)
        print(f"built {samples:,} samples in {time.perf_counter() - started:.0f} s")
        if not args.no_rules:
            started = time.perf_counter()
            recorded = record_rules(data_dir, args.services, spec_path, end_ms, args.hours)
            print(f"recorded {recorded:,} rule samples in {time.perf_counter() - started:.0f} s")
        (data_dir / ".built").write_text(str(end_ms))
    end_ms = int((data_dir / ".built").read_text())
    store = open_storage(data_dir, retention_seconds=None)
    try:
        deps = ApiDeps(engine=build_engine(store), storage=store, now_ms=lambda: end_ms)
        ctx = ConsoleContext(api=deps, specs=[load_spec(spec_path)])
        app = Starlette(routes=console_routes(ctx))
        paths = [
            "/?range=1h",
            "/?range=1d",
            "/service?service=svc-0&range=1h",
            "/service?service=svc-0&range=1d",
            "/slos?range=1d",
        ]
        with TestClient(app) as client:
            rows = time_pages(client, paths, args.repeat)
        print(f"\n{args.services} services x {args.hours:g} h, 15 s scrapes, width 1000 px")
        print(
            table(
                ["page", "wall ms", "CPU ms", "HTML+data KiB", f"<= {TARGET_MS:.0f} ms"],
                [
                    [p, f"{ms:.0f}", f"{cpu:.0f}", f"{size / 1024:.0f}", verdict(ms <= TARGET_MS)]
                    for p, ms, cpu, size in rows
                ],
            )
        )
    finally:
        store.close()
    if not args.skip_browser:
        draws = smoothness(10_000, 10, 1200)
        print("\nuPlot draw, 10 series x 10,000 points, 1,200 px chart (headless chromium)")
        print(
            table(
                ["data", "points/series", "JSON KiB", "draw ms", f"<= {FRAME_MS:.1f} ms (a frame)"],
                [
                    [n, str(p), f"{kib:.0f}", f"{ms:.1f}", verdict(ms <= FRAME_MS)]
                    for n, p, kib, ms in draws
                ],
            )
        )
        rng = np.random.default_rng(3)
        xs = np.arange(10_000, dtype=np.float64)
        ys = rng.normal(size=(10, 10_000))
        started = time.process_time()
        for _ in range(20):
            downsample(xs, ys, 1200)
        per = (time.process_time() - started) / 20 * 1000
        print(f"server-side downsample of 10 x 10,000 points to 1,200 columns: {per:.2f} ms CPU")


if __name__ == "__main__":
    main()
