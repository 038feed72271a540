"""Rules to webhook in one real ``watchkeeper up``: an alerting rule fires, the spec's
notifier routes it to a local webhook; with the webhook down and the monitor killed
with ``kill -9``, the notification is delivered after the restart."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest

from tests.monitor.notify.sink import Sink, wait_for
from tests.support.watchkeeper import watchkeeper_up

pytestmark = pytest.mark.slow

RULES = """\
groups:
  - name: e2e
    interval: 1s
    rules:
      - alert: AlwaysOn
        expr: vector(1)
        labels: {severity: critical, service: shop}
        annotations: {summary: "it is on"}
"""


def _spec(sink: Sink) -> str:
    return (
        "version: 1\nservice: shop\ntargets: ['127.0.0.1:9']\nnotify:\n"
        "  group_wait: 1s\n  group_interval: 2s\n"
        f"  receivers:\n    - name: hook\n      webhook: {{url: '{sink.url}'}}\n"
    )


def test_a_firing_rule_reaches_the_webhook_even_across_kill_9(tmp_path: Path) -> None:
    sink = Sink()  # down at first
    spec = tmp_path / "watchkeeper.yaml"
    spec.write_text(_spec(sink))
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES)
    data = tmp_path / "data"
    args = ("-f", str(spec), "--rules", str(rules), "--no-spec-rules", "--no-health-probes")
    with watchkeeper_up(data, *args) as (url, process):
        db = data / "notify" / "notify.db"

        def queued_and_tried() -> bool:
            body = httpx.get(f"{url}/api/v1/notifications", timeout=5).json()
            return any(n["status"] == "pending" and n["attempts"] for n in body["data"])

        wait_for(queued_and_tried, 90, "a pending notification with a failed attempt")
        assert db.exists()
        process.send_signal(signal.SIGKILL)
        process.wait()
    with sink:
        sink.start()
        with watchkeeper_up(data, *args) as (url, _):
            (body, *_) = wait_for(sink.received, 90, "the notification after the restart")
            assert body["receiver"] == "hook"
            assert body["status"] == "firing"
            (alert,) = body["alerts"]
            assert alert["labels"] == {
                "alertname": "AlwaysOn",
                "severity": "critical",
                "service": "shop",
            }
            assert alert["annotations"] == {"summary": "it is on"}
