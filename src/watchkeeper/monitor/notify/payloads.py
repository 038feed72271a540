"""What each integration sends, rendered from one stored notification message.

The message (written to the outbox by the dispatcher) holds the group and its
alerts with epoch-ms times; it never holds secrets, which are added at send time.
The webhook body is Alertmanager's version-4 payload, field for field; Slack,
PagerDuty and email render what the generated alertmanager.yml's templates say.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from watchkeeper.monitor.notify.silences import format_time

__all__ = [
    "alertmanager_alerts",
    "email_message",
    "pagerduty_event",
    "slack_payload",
    "subject",
    "webhook_payload",
]


def _common(items: Sequence[Mapping[str, str]]) -> dict[str, str]:
    if not items:
        return {}
    first = dict(items[0])
    return {k: v for k, v in first.items() if all(other.get(k) == v for other in items[1:])}


def _alerts(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    alerts: list[dict[str, Any]] = message["alerts"]
    return alerts


def webhook_payload(message: Mapping[str, Any], max_alerts: int = 0) -> dict[str, Any]:
    """Alertmanager's webhook body (``version: "4"``)."""
    alerts = _alerts(message)
    truncated = 0
    if max_alerts and len(alerts) > max_alerts:
        truncated = len(alerts) - max_alerts
        alerts = alerts[:max_alerts]
    return {
        "receiver": message["receiver"],
        "status": message["status"],
        "alerts": [
            {
                "status": a["status"],
                "labels": a["labels"],
                "annotations": a["annotations"],
                "startsAt": format_time(a["startsAt"]),
                "endsAt": format_time(a["endsAt"]),
                "generatorURL": a["generatorURL"],
                "fingerprint": a["fingerprint"],
            }
            for a in alerts
        ],
        "groupLabels": message["groupLabels"],
        "commonLabels": _common([a["labels"] for a in _alerts(message)]),
        "commonAnnotations": _common([a["annotations"] for a in _alerts(message)]),
        "externalURL": message["externalURL"],
        "version": "4",
        "groupKey": message["groupKey"],
        "truncatedAlerts": truncated,
    }


def subject(message: Mapping[str, Any]) -> str:
    """Alertmanager's default ``__subject``: ``[FIRING:2] HighErrorRate api (critical)``."""
    alerts = _alerts(message)
    status = str(message["status"]).upper()
    if message["status"] == "firing":
        status += f":{sum(1 for a in alerts if a['status'] == 'firing')}"
    group: Mapping[str, str] = message["groupLabels"]
    text = f"[{status}] " + " ".join(v for _, v in sorted(group.items()))
    common = _common([a["labels"] for a in alerts])
    if len(common) > len(group):
        rest = [v for k, v in sorted(common.items()) if k not in group]
        text += f" ({' '.join(rest)})"
    return text


def _describe(alerts: Sequence[Mapping[str, Any]]) -> str:
    lines: list[str] = []
    for a in alerts:
        lines.append("Labels:")
        lines += [f" - {k} = {v}" for k, v in sorted(a["labels"].items())]
        lines.append("Annotations:")
        lines += [f" - {k} = {v}" for k, v in sorted(a["annotations"].items())]
        if a["generatorURL"]:
            lines.append(f"Source: {a['generatorURL']}")
        lines.append("")
    return "\n".join(lines)


def slack_payload(message: Mapping[str, Any], channel: str | None) -> dict[str, Any]:
    """The generated slack_configs' title and text, as an attachment."""
    alerts = _alerts(message)
    common = _common([a["labels"] for a in alerts])
    title = (
        f"[{str(message['status']).upper()}] {common.get('alertname', '')} "
        f"({common.get('service', '')})"
    )
    text = "".join(
        f"{a['annotations'].get('summary', '')}\n{a['annotations'].get('runbook_url', '')}\n"
        for a in alerts
    )
    body: dict[str, Any] = {
        "username": "watchkeeper",
        "attachments": [
            {
                "title": title,
                "title_link": message["externalURL"],
                "text": text,
                "fallback": title,
                "color": "danger" if message["status"] == "firing" else "good",
                "mrkdwn_in": ["fallback", "pretext", "text"],
            }
        ],
    }
    if channel:
        body["channel"] = channel
    return body


def pagerduty_event(message: Mapping[str, Any], routing_key: str) -> dict[str, Any]:
    """An Events API v2 event; the dedup key is the group key's SHA-256, as Alertmanager's."""
    alerts = _alerts(message)
    common = _common([a["labels"] for a in alerts])
    annotations = _common([a["annotations"] for a in alerts])
    firing = [a for a in alerts if a["status"] == "firing"]
    resolved = [a for a in alerts if a["status"] == "resolved"]
    summary = annotations.get("summary") or subject(message)
    return {
        "routing_key": routing_key,
        "event_action": "trigger" if message["status"] == "firing" else "resolve",
        "dedup_key": hashlib.sha256(str(message["groupKey"]).encode()).hexdigest(),
        "payload": {
            "summary": summary[:1024],
            "source": "watchkeeper",
            "severity": "critical" if common.get("severity") == "critical" else "warning",
            "custom_details": {
                "firing": _describe(firing),
                "resolved": _describe(resolved),
                "num_firing": str(len(firing)),
                "num_resolved": str(len(resolved)),
            },
        },
        "client": "watchkeeper",
        "client_url": message["externalURL"],
    }


def email_message(message: Mapping[str, Any], sender: str, to: str) -> EmailMessage:
    email = EmailMessage()
    email["Subject"] = subject(message)
    email["From"] = sender
    email["To"] = to
    email["Date"] = formatdate(localtime=False)
    email["Message-Id"] = make_msgid("watchkeeper")
    alerts = _alerts(message)
    firing = [a for a in alerts if a["status"] == "firing"]
    resolved = [a for a in alerts if a["status"] == "resolved"]
    parts = [f"{len(firing)} firing, {len(resolved)} resolved; group {message['groupKey']}", ""]
    if firing:
        parts += ["[FIRING]", _describe(firing)]
    if resolved:
        parts += ["[RESOLVED]", _describe(resolved)]
    if message["externalURL"]:
        parts.append(f"Sent by watchkeeper: {message['externalURL']}")
    email.set_content("\n".join(parts))
    return email


def alertmanager_alerts(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Postable alerts for a real Alertmanager's ``POST /api/v2/alerts``."""
    out = []
    for a in _alerts(message):
        item: dict[str, Any] = {"labels": a["labels"], "annotations": a["annotations"]}
        if a["startsAt"]:
            item["startsAt"] = format_time(a["startsAt"])
        if a["endsAt"]:
            item["endsAt"] = format_time(a["endsAt"])
        if a["generatorURL"]:
            item["generatorURL"] = a["generatorURL"]
        out.append(item)
    return out
