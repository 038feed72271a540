"""A real uvicorn process over loopback: disconnects, runtime metrics."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.instrument.conftest import parse
from tests.instrument.servers import free_port, serve


def _scrape(base: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return parse(httpx.get(f"{base}/metrics", timeout=5).text)


@pytest.mark.slow
def test_real_uvicorn_disconnect_is_499_and_runtime_metrics_are_there() -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = ["uvicorn", "tests.instrument.servers.fastapi_app:app", "--port", str(port),
            "--host", "127.0.0.1", "--log-level", "warning"]  # fmt: skip
    with serve(argv, port):
        assert httpx.get(f"{base}/work/21", timeout=5).json() == {"result": 42}
        with httpx.stream("GET", f"{base}/ticks", timeout=5) as response:
            first = next(response.iter_bytes())
            assert first.startswith(b"tick 0")
        # the client hung up after the first chunk: the server notices, records 499
        deadline = time.monotonic() + 10
        while True:
            samples = _scrape(base)
            got = [
                v
                for (name, labels), v in samples.items()
                if name == "http_server_request_duration_seconds_count"
                and ("http_response_status_code", "499") in labels
            ]
            if got or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert got == [1]
        names = {name for name, _ in samples}
        for expected in [
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
            "process_open_fds",
            "python_gc_collections_total",
            "asyncio_event_loop_lag_seconds",
            "watchkeeper_build_info",
        ]:
            assert expected in names, expected
