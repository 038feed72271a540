"""Exemplars end to end: a real Prometheus 2.42 scrapes a real uvicorn service.

Prometheus runs with ``--enable-feature=exemplar-storage`` on a temporary data dir,
scrapes the service every second (it asks for OpenMetrics, the only format with
exemplars), and ``/api/v1/query_exemplars`` must return the trace id of the
request's span.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.instrument.servers import free_port, serve
from tests.support.prometheus import running_prometheus
from tests.tracing.otlp_receiver import SERVER_KIND, otlp_receiver

TRACE_ID = "5b8efff798038103d269b633813fc60c"
TRACEPARENT = f"00-{TRACE_ID}-eee19b7ec3c1b174-01"


def prometheus_scraping(target: str, work: Path) -> AbstractContextManager[str]:
    """A real Prometheus with exemplar storage scraping ``target`` every second."""
    config = (
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        "scrape_configs:\n  - job_name: traced\n"
        f"    static_configs:\n      - targets: ['{target}']\n"
    )
    return running_prometheus(
        work / "data", work, config_text=config, extra_args=["--enable-feature=exemplar-storage"]
    )


def _exemplars(url: str) -> list[dict[str, Any]]:
    now = time.time()
    response = httpx.get(
        f"{url}/api/v1/query_exemplars",
        params={
            "query": "http_server_request_duration_seconds_bucket",
            "start": now - 600,
            "end": now + 60,
        },
        timeout=5,
    )
    response.raise_for_status()
    data: list[dict[str, Any]] = response.json()["data"]
    return data


@pytest.mark.slow
def test_real_prometheus_stores_the_request_exemplar(tmp_path: Path) -> None:
    with otlp_receiver() as receiver:
        port = free_port()
        env = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            "OTEL_SERVICE_NAME": "svc-exemplars",
            "LOG_FILE": str(tmp_path / "app.log"),
            "DOWNSTREAM_URL": "http://127.0.0.1:1/",
        }
        argv = ["uvicorn", "tests.tracing.servers.traced_app:app", "--host", "127.0.0.1",
                "--port", str(port), "--log-level", "warning"]  # fmt: skip
        with serve(argv, port, env):
            response = httpx.get(
                f"http://127.0.0.1:{port}/hello", headers={"traceparent": TRACEPARENT}, timeout=10
            )
            assert response.status_code == 200
            spans = receiver.wait_for(
                lambda got: any(s.kind == SERVER_KIND and s.name == "GET /hello" for s in got)
            )
            (server,) = [s for s in spans if s.kind == SERVER_KIND and s.name == "GET /hello"]
            with prometheus_scraping(f"127.0.0.1:{port}", tmp_path) as prometheus:
                deadline = time.monotonic() + 60
                found: list[dict[str, str]] = []
                while not found and time.monotonic() < deadline:
                    for series in _exemplars(prometheus):
                        if series["seriesLabels"].get("http_route") != "/hello":
                            continue
                        found.extend(e["labels"] for e in series["exemplars"])
                    if not found:
                        time.sleep(0.5)
    assert found, "Prometheus returned no exemplar for /hello within 60 s"
    assert {"trace_id": TRACE_ID, "span_id": server.span_id} in found
    assert server.trace_id == TRACE_ID
