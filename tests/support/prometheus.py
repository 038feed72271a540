"""Run the real Prometheus (Debian's 2.42) on loopback for differential tests and benchmarks.

Data goes in the way a user would backfill it: ``promtool tsdb create-blocks-from
openmetrics FILE DIR``, then ``prometheus --storage.tsdb.path=DIR`` on a free port.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx

__all__ = [
    "PrometheusUnavailable",
    "create_blocks",
    "free_port",
    "prometheus_binaries",
    "running_prometheus",
    "wait_ready",
]

# Blocks of imported data may be years old: retention must not delete them at start-up.
_RETENTION = "100y"
_CONFIG = "global:\n  scrape_interval: 1h\n  evaluation_interval: 1h\nscrape_configs: []\n"


class PrometheusUnavailable(RuntimeError):
    """prometheus or promtool is not installed (``apt-get install -y prometheus``)."""


def prometheus_binaries() -> tuple[str, str]:
    prometheus, promtool = shutil.which("prometheus"), shutil.which("promtool")
    if prometheus is None or promtool is None:
        raise PrometheusUnavailable(
            "prometheus/promtool not found on PATH; install them with "
            "'apt-get install -y prometheus' (scripts/setup-system.sh does)"
        )
    return prometheus, promtool


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def create_blocks(openmetrics_file: Path, tsdb_dir: Path) -> None:
    """Backfill ``openmetrics_file`` into TSDB blocks under ``tsdb_dir`` with promtool."""
    _, promtool = prometheus_binaries()
    tsdb_dir.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            promtool,
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            str(openmetrics_file),
            str(tsdb_dir),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if result.returncode != 0:
        raise RuntimeError(f"promtool create-blocks-from failed:\n{result.stderr}{result.stdout}")


def wait_ready(
    url: str, *, timeout_s: float = 60.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Poll ``url`` + ``/-/ready`` until it answers 200 (or the process dies)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {process.returncode} before ready")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/-/ready", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise TimeoutError(f"{url}/-/ready did not answer 200 within {timeout_s:.0f}s")


@contextlib.contextmanager
def running_prometheus(
    tsdb_dir: Path, work_dir: Path, *, config_text: str = _CONFIG, extra_args: Sequence[str] = ()
) -> Iterator[str]:
    """Serve ``tsdb_dir`` with a real Prometheus on a free loopback port; yields its base URL.

    ``config_text``: its prometheus.yml (default: no scrapes, query only);
    ``extra_args``: more flags, e.g. ``--enable-feature=exemplar-storage``."""
    prometheus, _ = prometheus_binaries()
    work_dir.mkdir(parents=True, exist_ok=True)
    config = work_dir / "prometheus.yml"
    config.write_text(config_text, encoding="utf-8")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (work_dir / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            prometheus,
            f"--config.file={config}",
            f"--storage.tsdb.path={tsdb_dir}",
            f"--storage.tsdb.retention.time={_RETENTION}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--query.lookback-delta=5m",
            "--log.level=warn",
            *extra_args,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_ready(url, process=process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
