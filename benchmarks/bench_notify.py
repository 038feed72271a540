"""Notification latency: the embedded notifier (``watchkeeper up -f spec``) against
Alertmanager 0.25 (Debian's) running the alertmanager.yml generated from the same spec.

Both get ``group_wait: 1s`` and a webhook receiver pointed at their own local sink
(a threaded HTTP server in this process recording arrival times). Each round POSTs one
new alert (a new group, ``startsAt`` now) to both ``/api/v2/alerts`` back to back and
measures, per engine, the time from its POST to its webhook's arrival. The part of
that above ``group_wait`` is what the notifier adds (timers, routing, the outbox's
durable write, the HTTP send). A burst round then posts ``--burst`` alerts in
``--burst``/10 groups at once and measures until every group arrived.

The issue's target is end to end (fault → webhook ≤ ``for`` + evaluation interval +
``group_wait`` + 1 s); the notifier's share of it is ``group_wait`` + its overhead, so
the overhead must stay under 1 s.

Run: ``.venv/bin/python -m benchmarks.bench_notify [--rounds 15] [--burst 1000]``
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson

from benchmarks._common import machine, median, revision, table, verdict
from watchkeeper.monitor.notify import alertmanager_yaml

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
GROUP_WAIT_S = 1.0

SPEC = """\
version: 1
service: bench
targets: ["127.0.0.1:9"]
notify:
  receiver: hook
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
  receivers:
    - {name: hook, webhook: {url: "SINK"}}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _Sink:
    """Records the first arrival time of each group (by alertname)."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                at = time.perf_counter()
                body: dict[str, Any] = orjson.loads(
                    self.rfile.read(int(self.headers["content-length"]))
                )
                with sink.lock:
                    sink.arrived.setdefault(body["groupLabels"]["alertname"], at)
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: exited with {process.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/-/ready", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready within 60 s")


@contextlib.contextmanager
def _process(command: list[str], url: str, log: Path) -> Iterator[str]:
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        try:
            _wait_ready(url, process)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _post(client: httpx.Client, url: str, alerts: list[dict[str, Any]]) -> float:
    started = time.perf_counter()
    response = client.post(f"{url}/api/v2/alerts", json=alerts)
    response.raise_for_status()
    return started


def _wait_groups(sink: _Sink, names: list[str], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with sink.lock:
            if all(n in sink.arrived for n in names):
                return
        time.sleep(0.005)
    raise RuntimeError(f"groups {names[:3]}... not delivered within {timeout_s} s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--burst", type=int, default=1000)
    args = parser.parse_args(argv)
    if shutil.which(ALERTMANAGER) is None:
        print(f"{ALERTMANAGER} not found: run scripts/setup-system.sh")
        return
    ours_sink, theirs_sink = _Sink(), _Sink()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        spec = work / "watchkeeper.yaml"
        spec.write_text(SPEC.replace("SINK", ours_sink.url))
        am_config = work / "alertmanager.yml"
        am_config.write_text(alertmanager_yaml(spec).replace(ours_sink.url, theirs_sink.url))
        wk_port, am_port = _free_port(), _free_port()
        wk_cmd = [
            sys.executable,
            "-m",
            "watchkeeper.cli",
            "up",
            "--data-dir",
            str(work / "wk"),
            "--listen",
            f"127.0.0.1:{wk_port}",
            "-f",
            str(spec),
            "--no-health-probes",
        ]
        am_cmd = [
            ALERTMANAGER,
            f"--config.file={am_config}",
            f"--storage.path={work / 'am'}",
            f"--web.listen-address=127.0.0.1:{am_port}",
            "--cluster.listen-address=",
        ]
        with (
            _process(wk_cmd, f"http://127.0.0.1:{wk_port}", work / "wk.log") as wk,
            _process(am_cmd, f"http://127.0.0.1:{am_port}", work / "am.log") as am,
            httpx.Client(timeout=30) as client,
        ):
            latency: dict[str, list[float]] = {"watchkeeper": [], "alertmanager": []}
            engines = [("watchkeeper", wk, ours_sink), ("alertmanager", am, theirs_sink)]
            for i in range(args.rounds):
                name = f"Round{i}"
                alert = [
                    {
                        "labels": {"alertname": name, "service": "bench"},
                        "startsAt": _iso(time.time()),
                    }
                ]
                # Alternate who is posted first so neither always gets the head start.
                order = engines if i % 2 == 0 else engines[::-1]
                posted = {label: _post(client, url, alert) for label, url, _ in order}
                for label, _, sink in engines:
                    _wait_groups(sink, [name])
                    latency[label].append(sink.arrived[name] - posted[label])
            burst: dict[str, float] = {}
            groups = max(1, args.burst // 10)
            names = [f"Burst{g}" for g in range(groups)]
            alerts = [
                {
                    "labels": {"alertname": f"Burst{i % groups}", "instance": str(i)},
                    "startsAt": _iso(time.time()),
                }
                for i in range(args.burst)
            ]
            for label, url, sink in engines:
                started = _post(client, url, alerts)
                _wait_groups(sink, names, timeout_s=120)
                burst[label] = max(sink.arrived[n] for n in names) - started
    ours_sink.close()
    theirs_sink.close()
    ours = median(latency["watchkeeper"]) - GROUP_WAIT_S
    theirs = median(latency["alertmanager"]) - GROUP_WAIT_S
    rows = [
        [
            label,
            f"{median(v) * 1000:.0f}",
            f"{max(v) * 1000:.0f}",
            f"{(median(v) - GROUP_WAIT_S) * 1000:.0f}",
            f"{burst[label]:.2f}",
        ]
        for label, v in latency.items()
    ]
    print(machine())
    print(revision("src/watchkeeper/monitor/notify"))
    print(
        f"load average: {os.getloadavg()[0]:.2f}; rounds: {args.rounds}; burst: "
        f"{args.burst} alerts in {groups} groups"
    )
    headers = ["engine", "median ms", "max ms", "over group_wait ms", f"burst {args.burst} s"]
    print(table(headers, rows))
    print(
        f"overhead ratio (watchkeeper / alertmanager): {ours / theirs:.2f}; "
        f"burst ratio: {burst['watchkeeper'] / burst['alertmanager']:.2f}"
    )
    print(f"target: overhead above group_wait < 1000 ms: {verdict(ours < 1.0)}")


if __name__ == "__main__":
    main()
