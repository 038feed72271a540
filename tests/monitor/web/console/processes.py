"""Real processes for the console's browser tests: the quickstart FastAPI app under
uvicorn with a traffic thread, a webhook sink, and ``watchkeeper up`` scraping it."""

from __future__ import annotations

import http.server
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.instrument.servers import ROOT, free_port

__all__ = ["Monitor", "app_with_traffic", "monitor", "webhook_sink"]

# Secrets the spec takes from the environment: no page may ever show them.
SECRETS = {
    "WK_CONSOLE_TEST_SLACK": "https://hooks.slack.example/T000/B000/s3cr3t-slack-path",
    "WK_CONSOLE_TEST_HOOK_TOKEN": "s3cr3t-webhook-bearer-token",
}


def spec_text(app_port: int, hook_port: int) -> str:
    return f"""\
service: orders
targets:
  - http://127.0.0.1:{app_port}/metrics
scrape_interval: 1s
slos:
  - name: availability
    description: Requests answered without a server error.
    objective: 99.5
    sli: {{kind: availability}}
  - name: latency
    objective: 95
    sli: {{kind: latency, threshold: 0.5}}
notify:
  receiver: team
  group_by: [alertname, service]
  group_wait: 1s
  group_interval: 5s
  receivers:
    - name: team
      webhook:
        url: "http://127.0.0.1:{hook_port}/hook"
        bearer_token: "${{WK_CONSOLE_TEST_HOOK_TOKEN}}"
    - name: chat
      slack: {{webhook_url: "${{WK_CONSOLE_TEST_SLACK}}"}}
"""


@contextmanager
def _process(
    argv: list[str], env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    with tempfile.NamedTemporaryFile(suffix=".log") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", *argv], cwd=ROOT, env=full_env,
            stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
        try:
            yield proc, Path(log.name)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_for(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"{proc.args!r} did not start: {log.read_text()[-3000:]}"
                ) from None
            time.sleep(0.1)


@contextmanager
def app_with_traffic() -> Iterator[int]:
    """The quickstart app on 127.0.0.1 with ~20 requests/s: fast, slow, 4xx and 5xx."""
    port = free_port()
    argv = ["uvicorn", "examples.quickstart.fastapi_app:app", "--host", "127.0.0.1",
            "--port", str(port), "--log-level", "warning"]  # fmt: skip
    with _process(argv) as (proc, log):
        base = f"http://127.0.0.1:{port}"
        _wait_for(f"{base}/metrics", proc, log)
        stop = threading.Event()

        def traffic() -> None:
            paths = ["/orders/1", "/orders/2", "/orders/17/pay", "/orders/3/pay", "/flaky",
                     "/flaky", "/nope", "/orders/4"]  # fmt: skip
            i = 0
            with httpx.Client(base_url=base, timeout=5) as client:
                while not stop.is_set():
                    path = paths[i % len(paths)]
                    try:
                        if path.endswith("/pay"):
                            client.post(path)
                        else:
                            client.get(path)
                        if i % 40 == 0:
                            client.get("/reports/daily")
                    except httpx.HTTPError:
                        pass
                    i += 1
                    stop.wait(0.05)

        thread = threading.Thread(target=traffic, name="console-test-traffic", daemon=True)
        thread.start()
        try:
            yield port
        finally:
            stop.set()
            thread.join(timeout=10)


class _Sink(http.server.BaseHTTPRequestHandler):
    received: list[bytes] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        type(self).received.append(self.rfile.read(length))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def webhook_sink() -> Iterator[tuple[int, list[bytes]]]:
    received: list[bytes] = []
    handler = type("Sink", (_Sink,), {"received": received})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# The quickstart app's routes, for the synthetic history before the live scrapes.
ROUTES = ("/orders/{order_id}", "/orders/{order_id}/pay", "/reports/{name}", "/flaky")


def seed_history(data_dir: Path, job: str, instance: str, minutes: int = 60) -> None:
    """``minutes`` of realistic scraped history (``storage.synthetic``) for the same
    series the live scrapes will continue, so charts have a past to draw."""
    from watchkeeper.monitor.model import labels_from
    from watchkeeper.monitor.storage import open_storage
    from watchkeeper.monitor.storage.synthetic import synthetic_service

    steps = minutes * 4
    start = int(time.time() * 1000) - steps * 15_000 - 30_000
    svc = synthetic_service(routes=len(ROUTES), steps=steps, start_ms=start, seed=5)
    db = open_storage(data_dir)
    try:
        refs = []
        for labels in svc.labels:
            named = dict(labels) | {"job": job, "instance": instance}
            route = named.get("http_route", "")
            if route.startswith("/api/v1/r"):
                named["http_route"] = ROUTES[int(route.removeprefix("/api/v1/r"))]
            refs.append(db.ref(labels_from(named)))
        for i, ts in enumerate(svc.timestamps.tolist()):
            db.append_refs(refs, ts, svc.values[:, i].tolist())
        db.commit()
    finally:
        db.close()


@dataclass
class Monitor:
    url: str  # base URL to connect to (always 127.0.0.1)
    token: str | None
    data_dir: Path


@contextmanager
def monitor(
    work: Path, *extra: str, listen_host: str = "127.0.0.1", history: tuple[str, str] | None = None
) -> Iterator[Monitor]:
    """``watchkeeper up`` as a real process; its generated token read from its stderr.
    ``history``: (job, instance) to seed an hour of scraped history for."""
    port = free_port()
    data = work / f"data-{port}"
    if history is not None:
        seed_history(data, *history)
    argv = ["watchkeeper.cli", "up", "--data-dir", str(data),
            "--listen", f"{listen_host}:{port}", *extra]  # fmt: skip
    with _process(argv, env=SECRETS) as (proc, log):
        url = f"http://127.0.0.1:{port}"
        _wait_for(f"{url}/-/ready", proc, log)
        token = None
        deadline = time.monotonic() + 10
        while listen_host != "127.0.0.1" and token is None and time.monotonic() < deadline:
            found = re.search(r"console: \S+/\?token=(\S+)", log.read_text())
            token = found.group(1) if found else None
            time.sleep(0.05)
        yield Monitor(url, token, data)
