"""The stale-data banner and service discovery, with a real monitor scraping a port
where nothing listens."""

from __future__ import annotations

import time
from pathlib import Path

from starlette.testclient import TestClient

from tests.instrument.servers import free_port
from watchkeeper.monitor.server import (
    Monitor,
    MonitorConfig,
    ScrapeTarget,
    load_probes,
    scrape_targets,
)


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


def test_a_specs_exporter_and_probe_jobs_are_scraped_but_not_listed_as_services(
    tmp_path: Path,
) -> None:
    """`up -f` scrapes a dependency's exporter job (``<service>-<dependency>``) as
    Prometheus would; the console lists the service, not that job."""
    nowhere = f"127.0.0.1:{free_port()}"  # no exporter, no service listens here
    spec = tmp_path / "watchkeeper.yaml"
    spec.write_text(
        f"service: shop\ntargets: ['http://{nowhere}/metrics']\n"
        "dependencies:\n"
        f"  - {{kind: postgres, name: orders-db, exporter: '{nowhere}'}}\n"
        f"  - {{kind: http, name: payments, url: 'http://{nowhere}/health'}}\n"
    )
    config = MonitorConfig(
        data_dir=tmp_path / "data",
        spec_path=spec,
        targets=scrape_targets(spec),  # as `watchkeeper up -f` builds them
        probes=load_probes(spec),
    )
    monitor = Monitor(config, console=True)
    with TestClient(monitor.app, base_url="http://127.0.0.1:9099") as client:
        targets = client.get("/api/v1/targets").json()["data"]["activeTargets"]
        jobs = {t["labels"]["job"] for t in targets}
        assert {"shop", "shop-orders-db", "shop-payments"} <= jobs  # all scraped or probed
        overview = client.get("/?range=15m").text
        assert 'data-service="shop"' in overview
        assert "shop-orders-db" not in overview
        assert "shop-payments" not in overview
        page = client.get("/service?service=shop&range=15m").text
        assert "<option selected>shop</option>" in page
        assert "<option>shop-orders-db</option>" not in page
