"""Synthetic probes: the embedded prober against blackbox_exporter (Debian's 0.23) on the
same local HTTP endpoint.

Both probe ``http://127.0.0.1:PORT/`` (a ``python -m http.server`` in its own process,
so its CPU is nobody's) with the default 2xx module, ``--probes`` times per round,
one after another, rounds interleaved:

- embedded: ``Prober.probe()`` (fresh connection, request, conditions, four series
  appended to an in-memory store); CPU is this process's ``time.process_time``;
- blackbox_exporter: ``GET /probe?module=http_2xx&target=...`` over a kept-alive
  connection, as Prometheus scrapes it; CPU is the exporter process's (psutil), not
  counting what Prometheus would spend parsing the answer.

Reported: median wall time and CPU per probe and the ratios (embedded / blackbox).
Wall time includes the endpoint's answer, the same for both. On a shared machine
wall times move with the load; read the ratios.

Run: ``.venv/bin/python -m benchmarks.bench_probe [--rounds 7] [--probes 200]``
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

from benchmarks._common import machine, median, revision, table
from watchkeeper.monitor.probe import ProbeConfig, Prober
from watchkeeper.monitor.storage import MemoryStorage


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within 30 s")


def _ours(target: str, n: int) -> tuple[float, float]:
    """(wall s, CPU s) per probe for ``n`` sequential probes."""
    store = MemoryStorage()
    clock_now = [time.time()]

    def clock() -> float:
        clock_now[0] += 1.0  # one sample per second of fake time: none rejected
        return clock_now[0]

    prober = Prober(store, ProbeConfig("bench", target), clock=clock)

    async def run() -> None:
        for _ in range(n):
            status = await prober.probe()
            if status.health != "up":
                raise RuntimeError(f"embedded probe failed: {status.last_error}")

    cpu, wall = time.process_time(), time.perf_counter()
    asyncio.run(run())
    return (time.perf_counter() - wall) / n, (time.process_time() - cpu) / n


def _theirs(base: str, target: str, n: int, exporter: psutil.Process) -> tuple[float, float]:
    with httpx.Client(timeout=30) as client:
        params = {"module": "http_2xx", "target": target}
        client.get(f"{base}/probe", params=params)  # connect outside the timing
        before = exporter.cpu_times()
        wall = time.perf_counter()
        for _ in range(n):
            text = client.get(f"{base}/probe", params=params).text
            if "probe_success 1" not in text:
                raise RuntimeError(f"blackbox probe failed:\n{text}")
        elapsed = time.perf_counter() - wall
        after = exporter.cpu_times()
    cpu = (after.user - before.user) + (after.system - before.system)
    return elapsed / n, cpu / n


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--probes", type=int, default=200)
    args = parser.parse_args(argv)
    binary = shutil.which("prometheus-blackbox-exporter")
    if binary is None:
        raise SystemExit("needs prometheus-blackbox-exporter (scripts/setup-system.sh)")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "index.html").write_text("ok\n")
        config = Path(tmp) / "blackbox.yml"
        config.write_text("modules:\n  http_2xx:\n    prober: http\n    timeout: 5s\n")
        site_port, bb_port = _free_port(), _free_port()
        site = subprocess.Popen(
            [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(site_port)],
            cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        blackbox = subprocess.Popen(
            [binary, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{bb_port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            target = f"http://127.0.0.1:{site_port}/"
            base = f"http://127.0.0.1:{bb_port}"
            _wait(target)
            _wait(f"{base}/metrics")
            exporter = psutil.Process(blackbox.pid)
            ours_wall, ours_cpu, bb_wall, bb_cpu = [], [], [], []
            _ours(target, 10)  # warm-up: imports, the first TLS context
            for _ in range(args.rounds):
                wall, cpu = _ours(target, args.probes)
                ours_wall.append(wall)
                ours_cpu.append(cpu)
                wall, cpu = _theirs(base, target, args.probes, exporter)
                bb_wall.append(wall)
                bb_cpu.append(cpu)
        finally:
            for process in (blackbox, site):
                process.terminate()
                process.wait(timeout=15)
    ow, oc, bw, bc = (median(v) * 1e3 for v in (ours_wall, ours_cpu, bb_wall, bb_cpu))
    print(machine())
    print(revision("src/watchkeeper/monitor/probe"))
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in psutil.getloadavg())}")
    print(
        table(
            ["per probe (median of rounds)", "embedded", "blackbox_exporter", "ratio"],
            [
                ["wall ms", f"{ow:.2f}", f"{bw:.2f}", f"{ow / bw:.2f}"],
                ["CPU ms", f"{oc:.2f}", f"{bc:.2f}", f"{oc / bc:.2f}"],
            ],
        )
    )
    print(f"{args.rounds} rounds x {args.probes} sequential probes of {target}")


if __name__ == "__main__":
    main()
