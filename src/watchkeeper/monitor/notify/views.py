"""What may be shown of the notifier's configuration: everything but secrets.

``config_view`` rebuilds an alertmanager.yml-shaped mapping from a ``NotifyConfig``
with every secret replaced by where it comes from (``${SLACK_WEBHOOK_URL}``,
``file:/path``, or ``<redacted>`` for a value written in clear) and every URL
without query string or credentials, for the API's status and the console.
"""

from __future__ import annotations

from typing import Any

from watchkeeper.monitor.notify.config import (
    EmailConfig,
    Integration,
    NotifyConfig,
    PagerDutyConfig,
    RouteNode,
    SlackConfig,
    WebhookConfig,
)
from watchkeeper.monitor.notify.matchers import format_matcher
from watchkeeper.monitor.notify.secrets import redact_url

__all__ = ["config_view"]


def _ms(ms: int) -> str:
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def _route(node: RouteNode, parent: RouteNode | None) -> dict[str, Any]:
    out: dict[str, Any] = {"receiver": node.receiver}
    if node.matchers:
        out["matchers"] = [format_matcher(m) for m in node.matchers]
    group_by = ["..."] if node.group_by_all else list(node.group_by)
    if parent is None or (node.group_by, node.group_by_all) != (
        parent.group_by,
        parent.group_by_all,
    ):
        out["group_by"] = group_by
    for key in ("group_wait_ms", "group_interval_ms", "repeat_interval_ms"):
        if parent is None or getattr(node, key) != getattr(parent, key):
            out[key.removesuffix("_ms")] = _ms(getattr(node, key))
    if node.proceed:
        out["continue"] = True
    if node.routes:
        out["routes"] = [_route(child, node) for child in node.routes]
    return out


def _integration(integ: Integration) -> tuple[str, dict[str, Any]]:
    if isinstance(integ, WebhookConfig):
        hook: dict[str, Any] = {"url": redact_url(integ.url), "send_resolved": integ.send_resolved}
        if integ.bearer_token is not None:
            hook["http_config"] = {"authorization": {"credentials": integ.bearer_token.describe()}}
        return "webhook_configs", hook
    if isinstance(integ, SlackConfig):
        slack = {"api_url": integ.api_url.describe(), "send_resolved": integ.send_resolved}
        if integ.channel:
            slack["channel"] = integ.channel
        return "slack_configs", slack
    if isinstance(integ, PagerDutyConfig):
        return "pagerduty_configs", {
            "routing_key": integ.routing_key.describe(),
            "url": redact_url(integ.url),
            "send_resolved": integ.send_resolved,
        }
    assert isinstance(integ, EmailConfig)
    email: dict[str, Any] = {
        "to": integ.to,
        "from": integ.sender,
        "smarthost": integ.smarthost,
        "require_tls": integ.require_tls,
        "send_resolved": integ.send_resolved,
    }
    if integ.auth_username:
        email["auth_username"] = integ.auth_username
    if integ.auth_password is not None:
        email["auth_password"] = integ.auth_password.describe()
    return "email_configs", email


def config_view(config: NotifyConfig) -> dict[str, Any]:
    receivers = []
    for receiver in config.receivers.values():
        item: dict[str, Any] = {"name": receiver.name}
        for integ in receiver.integrations:
            kind, shown = _integration(integ)
            item.setdefault(kind, []).append(shown)
        receivers.append(item)
    view: dict[str, Any] = {
        "global": {"resolve_timeout": _ms(config.resolve_timeout_ms)},
        "route": _route(config.route, None),
        "receivers": receivers,
    }
    if config.inhibit_rules:
        view["inhibit_rules"] = [
            {
                "source_matchers": [format_matcher(m) for m in rule.source],
                "target_matchers": [format_matcher(m) for m in rule.target],
                "equal": list(rule.equal),
            }
            for rule in config.inhibit_rules
        ]
    return view
