"""Run ``watchkeeper up`` as a real process on a free loopback port, for tests and benchmarks."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from tests.support.prometheus import free_port, wait_ready

__all__ = ["watchkeeper_up"]


@contextlib.contextmanager
def watchkeeper_up(
    data_dir: Path, *args: str, log_path: Path | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Yields (base URL, process) once ``/-/ready`` answers; kills it if still running after."""
    port = free_port()
    log = (log_path or data_dir.parent / f"up-{port}.log").open("wb")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("WATCHKEEPER_TOKEN", None)
    command = [sys.executable, "-m", "watchkeeper.cli", "up", "--data-dir", str(data_dir)]
    process = subprocess.Popen(
        [*command, "--listen", f"127.0.0.1:{port}", *args],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process=process)
        yield url, process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()
