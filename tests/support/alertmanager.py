"""Run Debian's Alertmanager 0.25 as a real process on a free loopback port."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from tests.support.processes import running_service
from tests.support.prometheus import free_port

__all__ = ["ALERTMANAGER", "running_alertmanager"]

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"


@contextlib.contextmanager
def running_alertmanager(config: Path, work: Path) -> Iterator[str]:
    """Yields its base URL once ready (no clustering); its log is work/alertmanager.log."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        ALERTMANAGER,
        f"--config.file={config}",
        f"--storage.path={work / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    with running_service(command, ready_url=f"{url}/-/ready", log_path=work / "alertmanager.log"):
        yield url
