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
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from benchmarks._common import machine, median, revision, table, verdict
from benchmarks._processes import WebhookSink, free_port, running
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


def _group_sink() -> WebhookSink:
    """Records the first arrival time of each group (by alertname)."""
    return WebhookSink(lambda body: [body["groupLabels"]["alertname"]])


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _post(client: httpx.Client, url: str, alerts: list[dict[str, Any]]) -> float:
    started = time.perf_counter()
    response = client.post(f"{url}/api/v2/alerts", json=alerts)
    response.raise_for_status()
    return started


def _wait_groups(sink: WebhookSink, names: list[str], timeout_s: float = 60) -> None:
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
    ours_sink, theirs_sink = _group_sink(), _group_sink()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        spec = work / "watchkeeper.yaml"
        spec.write_text(SPEC.replace("SINK", ours_sink.url))
        am_config = work / "alertmanager.yml"
        am_config.write_text(alertmanager_yaml(spec).replace(ours_sink.url, theirs_sink.url))
        wk_port, am_port = free_port(), free_port()
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
            running(wk_cmd, f"http://127.0.0.1:{wk_port}", work / "wk.log") as wk,
            running(am_cmd, f"http://127.0.0.1:{am_port}", work / "am.log") as am,
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
