"""A rule file that fails to load is reported on every console page (issue 7: CLI, API
and console), while the monitor keeps serving."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from watchkeeper.monitor.server import Monitor, MonitorConfig

BROKEN = """\
groups:
  - name: shop
    rules:
      - alert: HighErrors
        expr: rate(http_errors_total[5m] > 1
"""


def test_broken_rule_file_shows_on_every_page(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(BROKEN)
    config = MonitorConfig(data_dir=tmp_path / "data", rule_files=[rules])
    monitor = Monitor(config, console=True)
    with TestClient(monitor.app, base_url="http://127.0.0.1:9099") as client:
        warnings = client.get("/api/v1/rules").json().get("warnings", [])
        assert warnings, "the API reports the broken file"
        for path in ("/", "/alerts", "/explore?expr=up"):
            page = client.get(path, headers={"accept": "text/html"})
            assert page.status_code == 200
            assert 'id="rules-banner"' in page.text
            assert "rules.yml" in page.text
    rules.write_text(BROKEN.replace("[5m] > 1", "[5m]) > 1"))
    healthy = Monitor(MonitorConfig(data_dir=tmp_path / "data2", rule_files=[rules]), console=True)
    with TestClient(healthy.app, base_url="http://127.0.0.1:9099") as client:
        assert 'id="rules-banner"' not in client.get("/", headers={"accept": "text/html"}).text
