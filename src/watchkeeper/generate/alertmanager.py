"""Alertmanager configuration and its routing tests.

Secrets stay out of the file: a ``${VAR}`` reference becomes the matching ``*_file``
field pointing at ``/etc/alertmanager/secrets/VAR`` (mounted by the compose file),
unless the caller passes ``secrets`` (the environment) to write values in clear.

Inhibitions generated here always use ``equal`` labels that every target alert
carries statically (``service``, ``slo``), so an inhibition can never match on a
label that is missing on both sides.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping

from watchkeeper.generate.artifact import Artifact, header, yaml_document
from watchkeeper.generate.rules import AlertRule
from watchkeeper.spec.catalog import SLO_ALERT
from watchkeeper.spec.model import ServiceSpec
from watchkeeper.spec.notify import Receiver, Route
from watchkeeper.spec.types import ENV_REF

__all__ = ["SECRETS_DIR", "alertmanager_config", "expected_receivers", "routes_tests"]

SECRETS_DIR = "/etc/alertmanager/secrets"


def _secret(value: str, field: str, secrets: Mapping[str, str] | None) -> dict[str, object]:
    match = ENV_REF.match(value)
    if match is None:
        return {field: value}
    if secrets is not None and match.group(1) in secrets:
        return {field: secrets[match.group(1)]}
    return {f"{field}_file": f"{SECRETS_DIR}/{match.group(1)}"}


def _receiver(receiver: Receiver, secrets: Mapping[str, str] | None) -> dict[str, object]:
    out: dict[str, object] = {"name": receiver.name}
    if receiver.email is not None:
        e = receiver.email
        email: dict[str, object] = {
            "to": e.to,
            "from": e.sender,
            "smarthost": e.smarthost,
            "require_tls": e.require_tls,
            "send_resolved": True,
        }
        if e.auth_username:
            email["auth_username"] = e.auth_username
        if e.auth_password:
            email |= _secret(e.auth_password, "auth_password", secrets)
        out["email_configs"] = [email]
    if receiver.pagerduty is not None:
        pd: dict[str, object] = _secret(receiver.pagerduty.routing_key, "routing_key", secrets)
        pd |= {
            "severity": '{{ if eq .CommonLabels.severity "critical" }}critical{{ else '
            "}}warning{{ end }}",
            "description": "{{ .CommonAnnotations.summary }}",
        }
        out["pagerduty_configs"] = [pd]
    if receiver.slack is not None:
        slack: dict[str, object] = _secret(receiver.slack.webhook_url, "api_url", secrets)
        if receiver.slack.channel:
            slack["channel"] = receiver.slack.channel
        slack |= {
            "send_resolved": True,
            "title": (
                "[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} "
                "({{ .CommonLabels.service }})"
            ),
            "text": (
                "{{ range .Alerts }}{{ .Annotations.summary }}\n"
                "{{ .Annotations.runbook_url }}\n{{ end }}"
            ),
        }
        out["slack_configs"] = [slack]
    if receiver.webhook is not None:
        hook: dict[str, object] = {"url": receiver.webhook.url, "send_resolved": True}
        if receiver.webhook.bearer_token:
            token = _secret(receiver.webhook.bearer_token, "credentials", secrets)
            hook["http_config"] = {"authorization": {"type": "Bearer", **token}}
        out["webhook_configs"] = [hook]
    return out


def _matchers(route: Route) -> list[str]:
    out = [f'{k}="{v}"' for k, v in sorted(route.match.items())]
    out += [f'{k}=~"{v}"' for k, v in sorted(route.match_re.items())]
    return out


def _generated_inhibitions(spec: ServiceSpec, alerts: list[AlertRule]) -> list[dict[str, object]]:
    names = {a.name for a in alerts}
    rules: list[dict[str, object]] = []
    if any(a.labels.get("burn_tier") == "page" for a in alerts) and any(
        a.labels.get("burn_tier") == "ticket" for a in alerts
    ):
        rules.append(
            {
                "source_matchers": [f'alertname="{SLO_ALERT}"', 'burn_tier="page"'],
                "target_matchers": [f'alertname="{SLO_ALERT}"', 'burn_tier="ticket"'],
                "equal": ["service", "slo"],
            }
        )
    muted = sorted(names & {"HighErrorRate", "HighLatencyP99", "TrafficDrop", SLO_ALERT})
    if "ServiceDown" in names and muted:
        rules.append(
            {
                "source_matchers": ['alertname="ServiceDown"', f'service="{spec.service}"'],
                "target_matchers": [f'alertname=~"{"|".join(muted)}"', f'service="{spec.service}"'],
                "equal": ["service"],
            }
        )
    return rules


def alertmanager_config(
    spec: ServiceSpec,
    source: str,
    alerts: list[AlertRule],
    secrets: Mapping[str, str] | None = None,
) -> Artifact:
    notify = spec.notify
    routes = []
    for route in notify.routes:
        item: dict[str, object] = {"receiver": route.receiver, "matchers": _matchers(route)}
        if route.group_by is not None:
            item["group_by"] = list(route.group_by)
        if route.repeat_interval is not None:
            item["repeat_interval"] = str(route.repeat_interval)
        if route.proceed:
            item["continue"] = True
        routes.append(item)
    root: dict[str, object] = {
        "receiver": notify.default_receiver,
        "group_by": list(notify.group_by),
        "group_wait": str(notify.group_wait),
        "group_interval": str(notify.group_interval),
        "repeat_interval": str(notify.repeat_interval),
    }
    if routes:
        root["routes"] = routes
    receivers = [_receiver(r, secrets) for r in notify.receivers] or [{"name": "default"}]
    inhibit = _generated_inhibitions(spec, alerts) + [
        {
            "source_matchers": [f'{k}="{v}"' for k, v in sorted(i.source.items())],
            "target_matchers": [f'{k}="{v}"' for k, v in sorted(i.target.items())],
            "equal": list(i.equal),
        }
        for i in notify.inhibit
    ]
    data: dict[str, object] = {"route": root, "receivers": receivers}
    if inhibit:
        data["inhibit_rules"] = inhibit
    note = (
        f"secrets: ${{VAR}} references are read from {SECRETS_DIR}/VAR "
        "(or pass --expand-secrets to write them in clear)"
    )
    return Artifact("alertmanager/alertmanager.yml", yaml_document(source, data, note))


def expected_receivers(spec: ServiceSpec, labels: Mapping[str, str]) -> list[str]:
    """Which receivers Alertmanager's routing tree sends ``labels`` to (our model of it)."""
    matched: list[str] = []
    for route in spec.notify.routes:
        ok = all(labels.get(k, "") == v for k, v in route.match.items()) and all(
            re.fullmatch(v, labels.get(k, "")) is not None for k, v in route.match_re.items()
        )
        if ok:
            matched.append(route.receiver)
            if not route.proceed:
                break
    return matched or [spec.notify.default_receiver]


def routes_tests(spec: ServiceSpec, source: str, alerts: list[AlertRule]) -> Artifact:
    """One line per distinct alert label set: the amtool arguments that check its route."""
    lines = []
    seen: set[str] = set()
    for alert in alerts:
        labels = {"alertname": alert.name, **alert.labels}
        args = " ".join(shlex.quote(f"{k}={v}") for k, v in sorted(labels.items()))
        if args in seen:
            continue
        seen.add(args)
        receivers = ",".join(expected_receivers(spec, labels))
        lines.append(f"--verify.receivers={receivers} {args}")
    head = [
        f"# {header(source)}",
        "# each line: amtool config routes test --config.file=alertmanager.yml <line>",
    ]
    return Artifact("alertmanager/routes.test.txt", "\n".join(head + sorted(lines)) + "\n")
