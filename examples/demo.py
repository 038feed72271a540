"""`make demo`: run the quickstart service, drive mixed traffic at it, show the golden signals.

Starts examples/quickstart/fastapi_app.py under uvicorn on 127.0.0.1, sends a
bounded mix of requests (fast, slow, failing, declined payments, unmatched scans)
for DEMO_SECONDS (default 20), and prints what /metrics says: traffic, errors and
latency quantiles per route, and saturation. Traffic goes only to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.live import Live
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
DURATION = "http_server_request_duration_seconds"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """histogram_quantile over cumulative (le, count) pairs, as Prometheus interpolates."""
    buckets = sorted(buckets)
    total = buckets[-1][1] if buckets else 0
    if total == 0:
        return float("nan")
    rank = q * total
    prev_le, prev_count = 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if le == float("inf"):
                return prev_le
            return prev_le + (le - prev_le) * (rank - prev_count) / max(count - prev_count, 1e-12)
        prev_le, prev_count = le, count
    return prev_le


def golden_signals(text: str) -> tuple[Table, dict[str, float]]:
    count: dict[str, float] = defaultdict(float)
    errors: dict[str, float] = defaultdict(float)
    buckets: dict[str, dict[float, float]] = defaultdict(lambda: defaultdict(float))
    gauges: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            route = s.labels.get("http_route", "")
            if s.name == DURATION + "_count":
                count[route] += s.value
                if s.labels.get("http_response_status_code", "").startswith("5"):
                    errors[route] += s.value
            elif s.name == DURATION + "_bucket":
                buckets[route][float(s.labels["le"])] += s.value
            elif not s.labels or s.name == "http_server_active_requests":
                gauges[s.name] = gauges.get(s.name, 0.0) + s.value
    table = Table(title="Golden signals (from /metrics)", title_justify="left")
    table.add_column("route", no_wrap=True, min_width=26)
    for column in ["requests", "errors (5xx)", "error %", "p50", "p95", "p99"]:
        table.add_column(column, justify="right", no_wrap=True)
    for route in sorted(count, key=lambda r: -count[r]):
        pairs = list(buckets[route].items())

        def ms(q: float, pairs: list[tuple[float, float]] = pairs) -> str:
            return f"{quantile(q, pairs) * 1000:.0f} ms"

        ratio = errors[route] / count[route] if count[route] else 0.0
        table.add_row(
            route, f"{count[route]:.0f}", f"{errors[route]:.0f}", f"{ratio:.1%}",
            ms(0.5), ms(0.95), ms(0.99),
        )  # fmt: skip
    return table, gauges


async def traffic(base: str, seconds: float) -> None:
    rng = random.Random(42)
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=base, timeout=5) as client:

        async def one() -> None:
            roll = rng.random()
            if roll < 0.5:
                path, method = f"/orders/{rng.randint(1, 5000)}", "GET"
            elif roll < 0.7:
                path, method = f"/orders/{rng.randint(1, 5000)}/pay", "POST"
            elif roll < 0.8:
                path, method = "/flaky", "GET"
            elif roll < 0.85:
                path, method = f"/reports/{rng.choice(['daily', 'weekly'])}", "GET"
            else:  # a vulnerability scanner: random paths that match no route
                path, method = f"/wp-{rng.randint(0, 10**9)}.php", rng.choice(["GET", "PROPFIND"])
            try:
                await client.request(method, path)
            except httpx.HTTPError:
                pass

        async def worker() -> None:
            while time.monotonic() < deadline:
                await one()
                await asyncio.sleep(0.01)

        await asyncio.gather(*(worker() for _ in range(8)))


def main() -> int:
    seconds = float(os.environ.get("DEMO_SECONDS", "20"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    console = Console(width=max(100, Console().width))
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "examples.quickstart.fastapi_app:app",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT,
    )  # fmt: skip
    try:
        for _ in range(100):
            try:
                httpx.get(f"{base}/metrics", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        console.print(f"[bold]orders[/] service on {base} — metrics at {base}/metrics")
        console.print(f"Driving mixed traffic for {seconds:.0f} s (set DEMO_SECONDS to change)…")

        async def run() -> None:
            task = asyncio.create_task(traffic(base, seconds))
            with Live(console=console, refresh_per_second=2) as live:
                while not task.done():
                    await asyncio.sleep(1)
                    text = httpx.get(f"{base}/metrics", timeout=5).text
                    live.update(golden_signals(text)[0])
            await task

        asyncio.run(run())
        text = httpx.get(f"{base}/metrics", timeout=5).text
        table, gauges = golden_signals(text)
        console.print(table)
        console.print(
            f"saturation: CPU {gauges.get('process_cpu_seconds_total', 0):.2f} s, "
            f"RSS {gauges.get('process_resident_memory_bytes', 0) / 2**20:.0f} MiB, "
            f"open fds {gauges.get('process_open_fds', 0):.0f}, "
            f"event-loop lag {gauges.get('asyncio_event_loop_lag_seconds', 0) * 1000:.1f} ms, "
            f"in flight {gauges.get('http_server_active_requests', 0):.0f}"
        )
        return 0
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
