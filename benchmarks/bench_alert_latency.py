"""Fault → webhook, end to end: the embedded monitor against Prometheus 2.42 + Alertmanager 0.25.

A fake service (a threaded HTTP server in this process) serves ``bench_fault{round}``
on /metrics. Both stacks scrape it every second and evaluate the same rule file
(``bench_fault == 1`` for ``for: 4s``, group interval 2 s); both notify through the
same routes (``group_wait: 1s``, grouped by alertname and round) to their own local
webhook sink, which records arrival times. Each round flips the fault on at t0 and
waits for both sinks to receive the firing group, then flips it off and waits for the
resolved one. A new ``round`` label per round makes every round a new group, so
``group_wait`` applies each time, as for a fresh incident.

Target (issue 7): fault → webhook ≤ ``for`` + one evaluation interval + ``group_wait``
+ 1 s = 8 s here. The scrape interval is not in that sum: a fault needs one scrape to
be seen, so the 1 s scrape interval here eats into the 1 s of slack.

Run: ``.venv/bin/python -m benchmarks.bench_alert_latency [--rounds 5]``
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from benchmarks._common import machine, median, revision, table, verdict
from benchmarks._processes import WebhookSink, free_port, running
from watchkeeper.monitor.notify import alertmanager_yaml

PROMETHEUS = "/usr/bin/prometheus"
ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
FOR_S, EVAL_S, GROUP_WAIT_S, SCRAPE_S = 4.0, 2.0, 1.0, 1.0
TARGET_S = FOR_S + EVAL_S + GROUP_WAIT_S + 1.0

RULES = f"""\
groups:
  - name: bench
    interval: {int(EVAL_S)}s
    rules:
      - alert: BenchFault
        expr: bench_fault == 1
        for: {int(FOR_S)}s
        labels: {{severity: page}}
        annotations: {{summary: "fault in round {{{{ $labels.round }}}}"}}
"""

SPEC = f"""\
version: 1
service: bench
targets: ["APP"]
scrape_interval: {int(SCRAPE_S)}s
notify:
  receiver: hook
  group_by: [alertname, round]
  group_wait: {int(GROUP_WAIT_S)}s
  group_interval: 1s
  repeat_interval: 1h
  receivers:
    - {{name: hook, webhook: {{url: "SINK"}}}}
"""

PROMETHEUS_YML = f"""\
global:
  scrape_interval: {int(SCRAPE_S)}s
  evaluation_interval: {int(EVAL_S)}s
rule_files: ["RULES"]
alerting:
  alertmanagers:
    - static_configs: [{{targets: ["AM"]}}]
scrape_configs:
  - job_name: bench
    static_configs: [{{targets: ["APP"]}}]
"""


class _App:
    """The fake service: its /metrics says whether the fault is on, and in which round."""

    def __init__(self) -> None:
        self.round = 0
        self.fault = 0
        app = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = (
                    f'# TYPE bench_fault gauge\nbench_fault{{round="{app.round}"}} {app.fault}\n'
                ).encode()
                self.send_response(200)
                self.send_header("content-type", "text/plain; version=0.0.4")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def _alert_sink() -> WebhookSink:
    """Records when each (round, status) first arrived, in wall-clock seconds."""
    return WebhookSink(
        lambda body: [(a["labels"].get("round", ""), a["status"]) for a in body.get("alerts", [])],
        clock=time.time,
    )


def _diagnose(name: str, wk: str, work: Path, sink: WebhookSink) -> None:
    """What each side knew when a notification did not arrive."""
    print(f"{name}: no notification; the sink has {sorted(map(repr, sink.arrived))}")
    for path in ("/api/v1/alerts", "/api/v2/alerts/groups", "/api/v1/notifications"):
        with contextlib.suppress(httpx.HTTPError):
            print(path, httpx.get(wk + path, timeout=5).text[:3000])
    print((work / "wk.log").read_text()[-3000:])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    missing = [b for b in (PROMETHEUS, ALERTMANAGER) if shutil.which(b) is None]
    if missing:
        print(f"{', '.join(missing)} not found: run scripts/setup-system.sh")
        return
    app, ours, theirs = _App(), _alert_sink(), _alert_sink()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rules = work / "rules.yml"
        rules.write_text(RULES)
        spec = work / "watchkeeper.yaml"
        spec.write_text(SPEC.replace("APP", app.address).replace("SINK", ours.url))
        am_config = work / "alertmanager.yml"
        am_config.write_text(alertmanager_yaml(spec).replace(ours.url, theirs.url))
        wk_port, am_port, prom_port = free_port(), free_port(), free_port()
        prom_config = work / "prometheus.yml"
        prom_config.write_text(
            PROMETHEUS_YML.replace("RULES", str(rules))
            .replace("AM", f"127.0.0.1:{am_port}")
            .replace("APP", app.address)
        )
        wk_cmd = [
            sys.executable, "-m", "watchkeeper.cli", "up", "--data-dir", str(work / "wk"),
            "--listen", f"127.0.0.1:{wk_port}", "-f", str(spec), "--no-spec-rules",
            "--no-health-probes", "--rules", str(rules),
            "--evaluation-interval", f"{int(EVAL_S)}s",
        ]  # fmt: skip
        am_cmd = [
            ALERTMANAGER, f"--config.file={am_config}", f"--storage.path={work / 'am'}",
            f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address=",
        ]  # fmt: skip
        prom_cmd = [
            PROMETHEUS, f"--config.file={prom_config}", f"--storage.tsdb.path={work / 'prom'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ]  # fmt: skip
        with (
            running(wk_cmd, f"http://127.0.0.1:{wk_port}", work / "wk.log"),
            running(am_cmd, f"http://127.0.0.1:{am_port}", work / "am.log"),
            running(prom_cmd, f"http://127.0.0.1:{prom_port}", work / "prom.log"),
        ):
            time.sleep(3 * SCRAPE_S)  # both have scraped the healthy service
            fire: dict[str, list[float]] = {"watchkeeper": [], "prometheus+alertmanager": []}
            resolve: dict[str, list[float]] = {"watchkeeper": [], "prometheus+alertmanager": []}
            sinks = {"watchkeeper": ours, "prometheus+alertmanager": theirs}
            for i in range(1, args.rounds + 1):
                app.round, app.fault = i, 0
                time.sleep(2 * SCRAPE_S)  # the new round's series exists, healthy
                t0 = time.time()
                app.fault = 1
                for name, sink in sinks.items():
                    try:
                        fire[name].append(sink.wait((str(i), "firing")) - t0)
                    except RuntimeError:
                        _diagnose(name, f"http://127.0.0.1:{wk_port}", work, sink)
                        raise
                t1 = time.time()
                app.fault = 0
                for name, sink in sinks.items():
                    resolve[name].append(sink.wait((str(i), "resolved")) - t1)
                print(
                    f"round {i}: fire "
                    + ", ".join(f"{n} {fire[n][-1]:.2f} s" for n in sinks)
                    + " | resolve "
                    + ", ".join(f"{n} {resolve[n][-1]:.2f} s" for n in sinks),
                    flush=True,
                )
    print()
    print(machine())
    print(revision("src/watchkeeper/monitor"))
    print(
        f"fault -> webhook, {args.rounds} rounds (scrape {SCRAPE_S:g} s, eval {EVAL_S:g} s, "
        f"for {FOR_S:g} s, group_wait {GROUP_WAIT_S:g} s)"
    )
    rows = [
        [
            name,
            f"{median(fire[name]):.2f}",
            f"{max(fire[name]):.2f}",
            f"{median(resolve[name]):.2f}",
            f"{max(resolve[name]):.2f}",
        ]
        for name in sinks
    ]
    print(
        table(["stack", "fire median s", "fire max s", "resolve median s", "resolve max s"], rows)
    )
    ratio = median(fire["watchkeeper"]) / median(fire["prometheus+alertmanager"])
    print(f"median fire latency ratio watchkeeper / prometheus+alertmanager: {ratio:.2f}")
    worst = max(fire["watchkeeper"])
    print("targets:")
    print(
        f"  fault -> webhook worst {worst:.2f} s <= for + eval + group_wait + 1 s = "
        f"{TARGET_S:g} s: {verdict(worst <= TARGET_S)}"
    )


if __name__ == "__main__":
    main()
