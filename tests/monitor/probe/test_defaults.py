"""The readiness probe every scrape target gets."""

from __future__ import annotations

import pytest

from watchkeeper.monitor.probe import health_probe, health_url


@pytest.mark.parametrize(
    ("metrics", "path", "expected"),
    [
        ("http://127.0.0.1:8000/metrics", "/ready", "http://127.0.0.1:8000/ready"),
        ("https://app:8443/custom/metrics?x=1", "/ready", "https://app:8443/ready"),
        ("http://[::1]:8000/metrics", "readyz", "http://[::1]:8000/readyz"),
    ],
)
def test_health_url_sits_next_to_metrics(metrics: str, path: str, expected: str) -> None:
    assert health_url(metrics, path) == expected


def test_health_probe_is_its_own_job() -> None:
    probe = health_probe("api", "http://127.0.0.1:8000/metrics", interval_s=5, timeout_s=2)
    assert probe.key == ("api-health", "http://127.0.0.1:8000/ready")
    assert (probe.module, probe.interval_s, probe.timeout_s) == ("http", 5, 2)
    assert [c.text for c in probe.parsed] == ["[STATUS] >= 200", "[STATUS] < 300"]
