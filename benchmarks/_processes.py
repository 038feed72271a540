"""Servers the alerting benchmarks share: free ports, a process run until it is
ready, and a webhook sink recording when each notification first arrived."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson

__all__ = ["WebhookSink", "free_port", "running"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def running(command: list[str], url: str, log: Path, ready: str = "/-/ready") -> Iterator[str]:
    """Run ``command`` (output to ``log``) until ``url + ready`` answers 200; yield ``url``;
    terminate it after."""
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"{command[0]} exited with {process.returncode}: see {log}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(url + ready, timeout=2).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{url}{ready} not ready within 60 s")
                time.sleep(0.1)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


class WebhookSink:
    """An Alertmanager-style webhook receiver on 127.0.0.1 recording, per key that
    ``keys(payload)`` names, the ``clock()`` time it first arrived."""

    def __init__(
        self,
        keys: Callable[[dict[str, Any]], Iterable[Hashable]],
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.arrived: dict[Hashable, float] = {}
        self.lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                at = clock()
                body: dict[str, Any] = orjson.loads(
                    self.rfile.read(int(self.headers.get("content-length") or 0))
                )
                with sink.lock:
                    for key in keys(body):
                        sink.arrived.setdefault(key, at)
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, key: Hashable, timeout_s: float = 60) -> float:
        """When ``key`` arrived, waiting for it at most ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if key in self.arrived:
                    return self.arrived[key]
            time.sleep(0.005)
        raise RuntimeError(f"{key!r} not delivered within {timeout_s} s")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
