"""Apps and helpers for tests that run real server processes on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx

ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve(
    argv: Sequence[str], port: int, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server process, wait until it answers on 127.0.0.1:port, stop it after."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    # A file, not a pipe: nobody drains a pipe while the test runs, and a full pipe
    # blocks the server.
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", *argv], cwd=ROOT, env=full_env,
            stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
        try:
            _wait_until_serving(proc, port, log)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_until_serving(proc: subprocess.Popen[bytes], port: int, log: IO[bytes]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1)
            return
        except httpx.HTTPError:
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                err = log.read().decode(errors="replace")
                raise RuntimeError(f"server {proc.args!r} did not start: {err[-2000:]}") from None
            time.sleep(0.1)
