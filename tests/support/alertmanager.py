"""Run Debian's Alertmanager 0.25 as a real process on a free loopback port."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

from tests.support.prometheus import free_port, wait_ready

__all__ = ["ALERTMANAGER", "running_alertmanager"]

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"


@contextlib.contextmanager
def running_alertmanager(config: Path, work: Path) -> Iterator[str]:
    """Yields its base URL once ready (no clustering); its log is work/alertmanager.log."""
    port = free_port()
    log = (work / "alertmanager.log").open("wb")
    process = subprocess.Popen(
        [
            ALERTMANAGER,
            f"--config.file={config}",
            f"--storage.path={work / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process=process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
