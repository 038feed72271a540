"""The stale-data banner and service discovery, with a real monitor scraping a port
where nothing listens."""

from __future__ import annotations

import time
from pathlib import Path

from starlette.testclient import TestClient

from tests.instrument.servers import free_port
from watchkeeper.monitor.server import Monitor, MonitorConfig, ScrapeTarget


def test_banner_names_a_target_without_a_successful_scrape_for_two_intervals(
    tmp_path: Path,
) -> None:
    url = f"http://127.0.0.1:{free_port()}/metrics"  # nothing listens there
    target = ScrapeTarget("ghost", url, interval_s=1.0, health_path=None)
    monitor = Monitor(MonitorConfig(data_dir=tmp_path, targets=[target]), console=True)
    with TestClient(monitor.app, base_url="http://127.0.0.1:9099") as client:
        first = client.get("/targets").text
        assert 'id="stale-banner"' not in first  # not before 2 intervals have passed
        deadline = time.monotonic() + 30
        while True:
            page = client.get("/targets").text
            if 'id="stale-banner"' in page or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert 'id="stale-banner"' in page
        assert "ghost (127.0.0.1:" in page
        # The job shows up as a service, down.
        overview = client.get("/?range=15m").text
        assert 'data-service="ghost"' in overview
        assert 'class="status down"' in overview
