"""Run a server process for a test on loopback: wait until it answers, stop it after."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx

__all__ = ["ROOT", "running_service", "wait_http"]

ROOT = Path(__file__).resolve().parents[2]


def wait_http(
    url: str, timeout_s: float = 60.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Poll ``url`` until it answers below 500 (or the process dies)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {process.returncode} first")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code < 500:
                return
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout_s:.0f}s")


@contextlib.contextmanager
def running_service(
    command: Sequence[str],
    *,
    ready_url: str,
    log_path: Path,
    env: dict[str, str] | None = None,
    timeout_s: float = 60.0,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` (``{python}`` is replaced by this interpreter) from the repo root
    until ``ready_url`` answers; terminate it (then kill) after. Its output goes to
    ``log_path``, which a failing test should print."""
    argv = [sys.executable if part == "{python}" else part for part in command]
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=full_env
        )
        try:
            wait_http(ready_url, timeout_s, process)
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
