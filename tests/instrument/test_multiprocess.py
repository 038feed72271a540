"""Multiprocess mode: merging rules, and real gunicorn -w 4 workers."""

from __future__ import annotations

import os
import signal
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.instrument.conftest import parse
from tests.instrument.servers import free_port, serve
from watchkeeper.instrument.multiprocess import merge
from watchkeeper.instrument.registry import MetricFamily, Sample


def _fam(name: str, mtype: str, mode: str, value: float, **labels: str) -> MetricFamily:
    return MetricFamily(name, mtype, "doc", [Sample(name, dict(labels), value)], mode)


def test_merge_sums_counters_and_applies_gauge_modes() -> None:
    archive = [_fam("jobs_total", "counter", "sum", 10, kind="a")]
    live = [
        (101, [_fam("jobs_total", "counter", "sum", 1, kind="a"),
               _fam("active", "gauge", "livesum", 2),
               _fam("lag", "gauge", "livemax", 0.5),
               _fam("process_resident_memory_bytes", "gauge", "liveall", 100)]),
        (102, [_fam("jobs_total", "counter", "sum", 4, kind="a"),
               _fam("active", "gauge", "livesum", 3),
               _fam("lag", "gauge", "livemax", 0.2),
               _fam("process_resident_memory_bytes", "gauge", "liveall", 200)]),
    ]  # fmt: skip
    merged = {f.name: f for f in merge([archive], live)}
    assert [s.value for s in merged["jobs_total"].samples] == [15]
    assert [s.value for s in merged["active"].samples] == [5]
    assert [s.value for s in merged["lag"].samples] == [0.5]
    per_pid = {s.labels["pid"]: s.value for s in merged["process_resident_memory_bytes"].samples}
    assert per_pid == {"101": 100, "102": 200}


def test_merge_keeps_histogram_lines_grouped_and_ordered() -> None:
    def hist(route: str, n: float) -> MetricFamily:
        samples = [
            Sample("h_bucket", {"route": route, "le": le}, n) for le in ["+Inf", "0.5", "10.0"]
        ] + [Sample("h_sum", {"route": route}, n), Sample("h_count", {"route": route}, n)]
        return MetricFamily("h", "histogram", "doc", samples, "sum")

    merged = merge([[hist("/b", 1)]], [(1, [hist("/a", 2), hist("/b", 3)])])
    lines = [
        (s.name, s.labels.get("route"), s.labels.get("le"), s.value) for s in merged[0].samples
    ]
    assert lines == [
        ("h_bucket", "/a", "0.5", 2), ("h_bucket", "/a", "10.0", 2), ("h_bucket", "/a", "+Inf", 2),
        ("h_count", "/a", None, 2), ("h_sum", "/a", None, 2),
        ("h_bucket", "/b", "0.5", 4), ("h_bucket", "/b", "10.0", 4), ("h_bucket", "/b", "+Inf", 4),
        ("h_count", "/b", None, 4), ("h_sum", "/b", None, 4),
    ]  # fmt: skip


def _total(base: str, route: str) -> float:
    text = httpx.get(f"{base}/metrics", timeout=5).text
    return sum(
        v
        for (name, labels), v in parse(text).items()
        if name == "http_server_request_duration_seconds_count" and ("http_route", route) in labels
    )


def _worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(p) for p in children]


def _get(url: str) -> None:
    # urllib: a new connection per request (spreads load over the workers) without
    # the cost of building an httpx client each time
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200


def _drive(base: str, n: int) -> None:
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: _get(f"{base}/work/{i}"), range(n)))


def _wait_for_total(base: str, route: str, expected: float, seen: list[float]) -> None:
    deadline = time.monotonic() + 15
    while True:
        total = _total(base, route)
        seen.append(total)
        assert total <= expected, f"scraped {total} requests but only {expected} were served"
        if total == expected or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert total == expected, f"scraped totals never reached {expected}: {seen[-5:]}"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("app", "extra_args"),
    [
        ("tests.instrument.servers.flask_app:app", ["-k", "sync"]),
        (
            "tests.instrument.servers.fastapi_app:app",
            ["-k", "uvicorn.workers.UvicornWorker", "--preload"],
        ),
    ],
    ids=["sync-flask", "uvicorn-fastapi-preload"],
)
def test_gunicorn_four_workers_totals_restarts_and_bounded_files(
    app: str, extra_args: list[str], tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = [
        "gunicorn",
        "-w",
        "4",
        "-b",
        f"127.0.0.1:{port}",
        "--graceful-timeout",
        "5",
        *extra_args,
        app,
    ]
    # TMPDIR keeps the auto-detected multiprocess directory inside the test's tmp_path
    with serve(argv, port, env={"TMPDIR": str(tmp_path)}) as master:
        seen: list[float] = []
        _drive(base, 300)
        _wait_for_total(base, "/work/{n}" if "fastapi" in app else "/work/<int:n>", 300, seen)
        route = "/work/{n}" if "fastapi" in app else "/work/<int:n>"

        # per-worker process metrics, one series per live worker (a worker that has
        # served nothing shows up with its first snapshot, within about a second)
        deadline = time.monotonic() + 15
        while True:
            text = httpx.get(f"{base}/metrics", timeout=5).text
            pids = {
                dict(labels)["pid"]
                for (name, labels), _ in parse(text).items()
                if name == "process_resident_memory_bytes"
            }
            if len(pids) >= 4 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert len(pids) == 4

        # restart every worker gracefully, twice: totals persist, files stay bounded
        for round_ in range(2):
            old = set(_worker_pids(master.pid))
            os.kill(master.pid, signal.SIGHUP)  # gunicorn replaces every worker
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                now = set(_worker_pids(master.pid))
                if len(now) == 4 and not (now & old):
                    break
                time.sleep(0.2)
            _drive(base, 50)
            _wait_for_total(base, route, 300 + 50 * (round_ + 1), seen)

        assert seen == sorted(seen), "a scraped counter went down"
        mp_dirs = list(tmp_path.glob("watchkeeper-mp-*"))
        assert len(mp_dirs) == 1
        files = sorted(p.name for p in mp_dirs[0].glob("*.json"))
        assert len(files) <= 5, files  # four live workers + the archive
        assert "archive.json" in files


def test_concurrent_flushes_and_scrapes_in_one_worker_never_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A gthread worker flushes from its background thread while request threads
    # answer /metrics (which flushes too): no rename may lose another's file.
    from watchkeeper.instrument import multiprocess
    from watchkeeper.instrument.registry import Registry

    monkeypatch.setenv("WATCHKEEPER_MULTIPROC_DIR", str(tmp_path))
    # This process's multiprocess state, restored after the test (pid 0: look the
    # directory up again); the threads below are the flushers, none in the background.
    initial: list[tuple[str, object]] = [
        ("pid", 0), ("directory", None), ("registries", []), ("thread", None)
    ]  # fmt: skip
    for name, start in initial:
        monkeypatch.setattr(multiprocess._state, name, start)
    monkeypatch.setattr(multiprocess, "_flush_loop", lambda: None)
    registry = Registry()
    counter = registry.counter("jobs_total", "Jobs.", ["kind"])
    assert multiprocess.activate(registry)

    def work(i: int) -> int:
        for _ in range(40):
            counter.labels(f"k{i}").inc()
            multiprocess.flush()
            multiprocess.collect(tmp_path)
        return i

    with ThreadPoolExecutor(8) as pool:
        assert sorted(pool.map(work, range(8))) == list(range(8))  # re-raises any failure
    merged = {
        s.labels["kind"]: s.value
        for f in multiprocess.collect(tmp_path)
        if f.name == "jobs"
        for s in f.samples
    }
    assert merged == {f"k{i}": 40.0 for i in range(8)}
    assert list(tmp_path.glob("*.tmp")) == []
