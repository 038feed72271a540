"""The web console's page budget: Overview (10 services) and Service page render time,
HTML plus all chart data, against 24 h of scraped data; and how 10,000-point series
stay smooth (server-side min/max per pixel column, then uPlot in headless chromium).

Data: 10 synthetic services (``storage.synthetic``: latency histograms per route,
method and status, process metrics, queues; realistic jittered 15 s scrapes) for the
last 24 h, appended straight into a fresh TSDB; one service has a spec with two SLOs,
so the overview and SLO pages evaluate their 30 d budget queries too. Then, as
``watchkeeper up -f SPEC --target ...`` would have over those 24 h, the series its rules
engine records: the rule groups ``server.rule_sources`` loads (the spec's generated
groups, the golden recording rules of the nine spec-less jobs), each recording rule
at its group's interval (1 m, 5 m for the SLO period) and offset (``record_rules``).
The same pages are also timed on the data without them, as a secondary table (every
page reads the raw per-route series: data scraped before the rules ran, or by a
Prometheus without them); ``--no-rules`` times only that case. Pages are requested
through the console's real ASGI app (routes, queries on the in-process engine, Jinja
rendering, response) with an in-process client, each after one warm-up;
``--data-dir DIR`` keeps DIR/raw and DIR/rules for the next run. Target: <= 300 ms per page.

The smoothness part times uPlot drawing 10 series of 10,000 points each, raw and cut
to 2 points per pixel column of a 1,200 px chart (what the console sends), in Debian's
headless chromium (Playwright, the system browser): a frame is 16.7 ms.

Run: .venv/bin/python -m benchmarks.bench_console [--services 10 --routes 3 --hours 24]
     [--data-dir DIR (kept, reused when built)] [--no-rules] [--skip-browser]
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
PATHS = [
    "/?range=1h",
    "/?range=1d",
    "/service?service=svc-0&range=1h",
    "/service?service=svc-0&range=1d",
    "/slos?range=1d",
]
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
    """The series ``watchkeeper up -f SPEC --target svc-1=... ...`` records over the data:
    the very rule groups its rules manager loads (``server.rule_sources``: the spec's
    generated groups for svc-0, the golden recording rules of the spec-less jobs
    svc-1..), each recording rule evaluated at its group's interval and hashed offset,
    in group order. A range query at the group's step is the same evaluation as an
    instant query per tick (the alert rules write only ALERTS, left out)."""
    import zlib

    from watchkeeper.monitor.server import MonitorConfig, ScrapeTarget, rule_sources

    targets = [ScrapeTarget(f"svc-{s}", f"http://10.0.{s}.1:8000/metrics") for s in range(services)]
    config = MonitorConfig(data_dir=data_dir, spec_path=spec_path, targets=targets)
    default_ms = int(config.evaluation_interval_s * 1000)
    db = open_storage(data_dir, retention_seconds=None)
    engine = build_engine(db)
    written = 0
    for source in rule_sources(config):
        for group in source.read():
            interval = group.interval_ms or default_ms
            offset = zlib.crc32(f"{group.file}\x00{group.name}".encode()) % interval
            # The first evaluation 5 minutes into the data, then every interval to the end.
            first = end_ms - int(hours * 3600_000) + 300_000
            first += (offset - first) % interval
            last = end_ms - ((end_ms - offset) % interval)
            for rule in group.rules:
                if rule.kind != "record":
                    continue
                for series in engine.range_query(rule.expr, first, last, interval).series:
                    named = dict(series.labels) | {"__name__": rule.name} | dict(rule.labels)
                    ref = db.ref(labels_from(named))
                    for t, v in series.points:
                        written += db.append_refs([ref], t, [v])
                db.commit()  # later rules of the group read this one's series
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


def time_console(
    data_dir: Path, spec_path: Path, end_ms: int, repeat: int
) -> list[tuple[str, float, float, int]]:
    """The pages of the console's real app over ``data_dir`` (``time_pages``)."""
    store = open_storage(data_dir, retention_seconds=None)
    try:
        deps = ApiDeps(engine=build_engine(store), storage=store, now_ms=lambda: end_ms)
        ctx = ConsoleContext(api=deps, specs=[load_spec(spec_path)])
        app = Starlette(routes=console_routes(ctx))
        with TestClient(app) as client:
            return time_pages(client, PATHS, repeat)
    finally:
        store.close()


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
        help="only the secondary case: raw series, no recorded rule series",
    )
    args = parser.parse_args(argv)
    print(machine())
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    data_dir = args.data_dir or work / "data"
    spec_path = work / "watchkeeper.yaml"
    spec_path.write_text(SPEC)
    raw_dir, rules_dir = data_dir / "raw", data_dir / "rules"
    if not (raw_dir / ".built").exists():
        end_ms = int(time.time() * 1000)
        started = time.perf_counter()
        samples = build_data(raw_dir, args.services, args.routes, args.hours, end_ms)
        print(f"built {samples:,} samples in {time.perf_counter() - started:.0f} s")
        (raw_dir / ".built").write_text(str(end_ms))
    end_ms = int((raw_dir / ".built").read_text())
    if not args.no_rules and not (rules_dir / ".built").exists():
        shutil.rmtree(rules_dir, ignore_errors=True)
        shutil.copytree(raw_dir, rules_dir)
        (rules_dir / ".built").unlink()
        started = time.perf_counter()
        recorded = record_rules(rules_dir, args.services, spec_path, end_ms, args.hours)
        print(f"recorded {recorded:,} rule samples in {time.perf_counter() - started:.0f} s")
        (rules_dir / ".built").write_text(str(end_ms))
    cases = [] if args.no_rules else [("with the recorded rule series (watchkeeper up)", rules_dir)]
    cases.append(("SECONDARY: raw series only, no recorded rule series (--no-rules)", raw_dir))
    print(f"\n{args.services} services x {args.hours:g} h, 15 s scrapes, width 1000 px")
    for title, directory in cases:
        rows = time_console(directory, spec_path, end_ms, args.repeat)
        print(f"\n{title}")
        print(
            table(
                ["page", "wall ms", "CPU ms", "HTML+data KiB", f"<= {TARGET_MS:.0f} ms"],
                [
                    [p, f"{ms:.0f}", f"{cpu:.0f}", f"{size / 1024:.0f}", verdict(ms <= TARGET_MS)]
                    for p, ms, cpu, size in rows
                ],
            )
        )
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
