"""Rendering: Alertmanager's webhook v4 body, subjects, truncation."""

from __future__ import annotations

from typing import Any

from watchkeeper.monitor.notify.payloads import subject, webhook_payload


def _message(*alerts: dict[str, Any], status: str = "firing") -> dict[str, Any]:
    return {
        "receiver": "r",
        "groupKey": "{}:{}",
        "groupLabels": {"alertname": "Down"},
        "externalURL": "http://wk",
        "status": status,
        "alerts": list(alerts),
    }


def _alert(instance: str, status: str = "firing", ends: int = 0) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": "Down", "instance": instance, "job": "api"},
        "annotations": {"summary": "down", "detail": instance},
        "startsAt": 1_700_000_000_123,
        "endsAt": ends,
        "generatorURL": "http://p/graph",
        "fingerprint": instance,
    }


def test_webhook_v4_common_labels_annotations_times_and_truncation() -> None:
    body = webhook_payload(_message(_alert("a"), _alert("b", "resolved", 1_700_000_060_000)))
    assert body["commonLabels"] == {"alertname": "Down", "job": "api"}
    assert body["commonAnnotations"] == {"summary": "down"}
    first, second = body["alerts"]
    assert first["startsAt"] == "2023-11-14T22:13:20.123Z"
    assert first["endsAt"] == "0001-01-01T00:00:00Z"
    assert second["endsAt"] == "2023-11-14T22:14:20Z"
    assert (body["version"], body["truncatedAlerts"]) == ("4", 0)
    truncated = webhook_payload(_message(_alert("a"), _alert("b"), _alert("c")), max_alerts=2)
    assert len(truncated["alerts"]) == 2
    assert truncated["truncatedAlerts"] == 1
    # Common labels are over all alerts, not only those shown.
    assert truncated["commonLabels"] == {"alertname": "Down", "job": "api"}


def test_subject_like_alertmanagers_default() -> None:
    assert subject(_message(_alert("a"), _alert("b"))) == "[FIRING:2] Down (api)"
    one = _message(_alert("a", "resolved"), status="resolved")
    assert subject(one) == "[RESOLVED] Down (a api)"
