"""The notifier's configuration: Alertmanager 0.25's ``alertmanager.yml`` model.

The embedded notifier reads the very file ``watchkeeper generate`` writes for a
real Alertmanager (built in memory from the spec by ``config_from_spec``), so
routing, grouping, timing and inhibition cannot drift between the two. Only the
subset the generator writes (and what users commonly hand-write next to it) is
accepted; anything else is an error naming the key, not silently ignored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from watchkeeper.monitor.model import Matcher, MatchType
from watchkeeper.monitor.notify.matchers import (
    MatcherError,
    format_matcher,
    parse_duration_ms,
    parse_matcher,
)
from watchkeeper.monitor.notify.secrets import Secret

__all__ = [
    "ConfigError",
    "EmailConfig",
    "InhibitRule",
    "Integration",
    "NotifyConfig",
    "PagerDutyConfig",
    "ReceiverConfig",
    "RouteNode",
    "SlackConfig",
    "WebhookConfig",
    "parse_config",
]

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"


class ConfigError(ValueError):
    """An alertmanager.yml the notifier cannot run; the message names the key."""


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    url: str
    bearer_token: Secret | None = None
    send_resolved: bool = True
    max_alerts: int = 0
    kind: str = "webhook"


@dataclass(frozen=True, slots=True)
class SlackConfig:
    api_url: Secret
    channel: str | None = None
    send_resolved: bool = False
    kind: str = "slack"


@dataclass(frozen=True, slots=True)
class PagerDutyConfig:
    routing_key: Secret
    url: str = PAGERDUTY_EVENTS_URL
    send_resolved: bool = True
    kind: str = "pagerduty"


@dataclass(frozen=True, slots=True)
class EmailConfig:
    to: str
    sender: str
    smarthost: str
    auth_username: str | None = None
    auth_password: Secret | None = None
    require_tls: bool = True
    send_resolved: bool = False
    hello: str = "localhost"
    tls_ca_file: str | None = None
    tls_insecure_skip_verify: bool = False
    kind: str = "email"


Integration = WebhookConfig | SlackConfig | PagerDutyConfig | EmailConfig


@dataclass(frozen=True, slots=True)
class ReceiverConfig:
    name: str
    integrations: tuple[Integration, ...] = ()


@dataclass(frozen=True, slots=True)
class RouteNode:
    """One node of the routing tree with its inherited options already resolved."""

    receiver: str
    matchers: tuple[Matcher, ...]
    group_by: tuple[str, ...]
    group_by_all: bool
    group_wait_ms: int
    group_interval_ms: int
    repeat_interval_ms: int
    proceed: bool  # Alertmanager's `continue`
    key: str  # Alertmanager's route key: "{}" for the root, "{}/{a=\"b\"}" below it
    routes: tuple[RouteNode, ...] = ()

    def match(self, labels: Mapping[str, str]) -> list[RouteNode]:
        """The routes an alert goes to: Alertmanager's depth-first ``Route.Match``."""
        if not all(m.matches(labels.get(m.name, "")) for m in self.matchers):
            return []
        found: list[RouteNode] = []
        for child in self.routes:
            matched = child.match(labels)
            found.extend(matched)
            if matched and not child.proceed:
                break
        return found or [self]

    def walk(self) -> list[RouteNode]:
        return [self, *(n for child in self.routes for n in child.walk())]


@dataclass(frozen=True, slots=True)
class InhibitRule:
    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    route: RouteNode
    receivers: Mapping[str, ReceiverConfig]
    inhibit_rules: tuple[InhibitRule, ...] = ()
    resolve_timeout_ms: int = 300_000
    external_url: str = field(default="")


_TYPE_ORDER = {
    MatchType.EQUAL: 0,
    MatchType.NOT_EQUAL: 1,
    MatchType.REGEX: 2,
    MatchType.NOT_REGEX: 3,
}


def _sorted(matchers: Sequence[Matcher]) -> tuple[Matcher, ...]:
    return tuple(sorted(matchers, key=lambda m: (m.name, m.value, _TYPE_ORDER[m.type])))


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__}")
    return value


def _list(value: object, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(f"{where}: expected a list, got {type(value).__name__}")
    return value


def _matchers(raw: Mapping[str, Any], where: str) -> list[Matcher]:
    out: list[Matcher] = []
    try:
        for name, value in _mapping(raw.get("match"), f"{where}.match").items():
            out.append(Matcher.of(str(name), MatchType.EQUAL, str(value)))
        for name, value in _mapping(raw.get("match_re"), f"{where}.match_re").items():
            out.append(Matcher.of(str(name), MatchType.REGEX, str(value)))
        for text in _list(raw.get("matchers"), f"{where}.matchers"):
            out.append(parse_matcher(str(text)))
    except MatcherError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    except Exception as exc:  # re.error from Matcher.of
        raise ConfigError(f"{where}: invalid regular expression: {exc}") from None
    return out


def _duration(raw: Mapping[str, Any], key: str, inherited: int, where: str) -> int:
    if key not in raw:
        return inherited
    try:
        return parse_duration_ms(raw[key], f"{where}.{key}")
    except MatcherError as exc:
        raise ConfigError(str(exc)) from None


def _route(
    raw: Mapping[str, Any], parent: RouteNode | None, receivers: Mapping[str, Any], where: str
) -> RouteNode:
    receiver = raw.get("receiver", parent.receiver if parent else None)
    if not receiver:
        raise ConfigError(f"{where}: the root route needs a `receiver`")
    if receiver not in receivers:
        raise ConfigError(
            f"{where}.receiver: names no receiver, got {receiver!r}; "
            f"defined: {', '.join(sorted(receivers))}"
        )
    matchers = _sorted(_matchers(raw, where))
    if parent is None and matchers:
        raise ConfigError(f"{where}: the root route must not have matchers")
    if "group_by" in raw:
        group_by = tuple(str(g) for g in _list(raw["group_by"], f"{where}.group_by"))
        group_all = "..." in group_by
        if group_all and len(group_by) > 1:
            raise ConfigError(f"{where}.group_by: '...' must be the only entry, got {group_by}")
        group_by = () if group_all else group_by
    else:
        group_by = parent.group_by if parent else ()
        group_all = parent.group_by_all if parent else False
    own = "{" + ",".join(format_matcher(m) for m in matchers) + "}"
    node = RouteNode(
        receiver=str(receiver),
        matchers=matchers,
        group_by=group_by,
        group_by_all=group_all,
        group_wait_ms=_duration(
            raw, "group_wait", parent.group_wait_ms if parent else 30_000, where
        ),
        group_interval_ms=_duration(
            raw, "group_interval", parent.group_interval_ms if parent else 300_000, where
        ),
        repeat_interval_ms=_duration(
            raw, "repeat_interval", parent.repeat_interval_ms if parent else 4 * 3_600_000, where
        ),
        proceed=bool(raw.get("continue", False)),
        key=f"{parent.key}/{own}" if parent else own,
    )
    children = tuple(
        _route(_mapping(c, f"{where}.routes[{i}]"), node, receivers, f"{where}.routes[{i}]")
        for i, c in enumerate(_list(raw.get("routes"), f"{where}.routes"))
    )
    return replace(node, routes=children)


def _require(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: `{key}` is required")
    return value


def _secret(raw: Mapping[str, Any], key: str, where: str, required: bool) -> Secret | None:
    secret = Secret.from_config(raw.get(key), raw.get(f"{key}_file"))
    if secret is None and required:
        raise ConfigError(f"{where}: `{key}` or `{key}_file` is required")
    return secret


def _integration(
    kind: str, raw: Mapping[str, Any], glob: Mapping[str, Any], where: str
) -> Integration:
    if kind == "webhook_configs":
        auth = _mapping(_mapping(raw.get("http_config"), where).get("authorization"), where)
        return WebhookConfig(
            url=_require(raw, "url", where),
            bearer_token=_secret(auth, "credentials", where, required=False),
            send_resolved=bool(raw.get("send_resolved", True)),
            max_alerts=int(raw.get("max_alerts", 0)),
        )
    if kind == "slack_configs":
        merged = {
            "api_url": glob.get("slack_api_url"),
            "api_url_file": glob.get("slack_api_url_file"),
        }
        merged |= {k: v for k, v in raw.items() if k in ("api_url", "api_url_file")}
        api_url = _secret(merged, "api_url", where, required=True)
        assert api_url is not None
        return SlackConfig(
            api_url=api_url,
            channel=raw.get("channel"),
            send_resolved=bool(raw.get("send_resolved", False)),
        )
    if kind == "pagerduty_configs":
        key = _secret(raw, "routing_key", where, required=True)
        assert key is not None
        return PagerDutyConfig(
            routing_key=key,
            url=str(raw.get("url", PAGERDUTY_EVENTS_URL)),
            send_resolved=bool(raw.get("send_resolved", True)),
        )
    if kind == "email_configs":
        smtp = {k.removeprefix("smtp_"): v for k, v in glob.items() if k.startswith("smtp_")}
        merged = {**smtp, **raw}
        tls = _mapping(raw.get("tls_config"), f"{where}.tls_config")
        return EmailConfig(
            to=_require(merged, "to", where),
            sender=_require(merged, "from", where),
            smarthost=_require(merged, "smarthost", where),
            auth_username=merged.get("auth_username"),
            auth_password=_secret(merged, "auth_password", where, required=False),
            require_tls=bool(merged.get("require_tls", True)),
            send_resolved=bool(raw.get("send_resolved", False)),
            hello=str(merged.get("hello", "localhost")),
            tls_ca_file=tls.get("ca_file"),
            tls_insecure_skip_verify=bool(tls.get("insecure_skip_verify", False)),
        )
    raise ConfigError(
        f"{where}: {kind} is not supported by the embedded notifier "
        "(webhook_configs, slack_configs, pagerduty_configs, email_configs are)"
    )


def _receiver(raw: Mapping[str, Any], glob: Mapping[str, Any], where: str) -> ReceiverConfig:
    name = _require(raw, "name", where)
    integrations: list[Integration] = []
    for kind, value in raw.items():
        if kind == "name":
            continue
        for i, item in enumerate(_list(value, f"{where}.{kind}")):
            at = f"{where}.{kind}[{i}]"
            integrations.append(_integration(kind, _mapping(item, at), glob, at))
    return ReceiverConfig(name, tuple(integrations))


def _inhibit(raw: Mapping[str, Any], where: str) -> InhibitRule:
    source = _matchers(
        {
            "match": raw.get("source_match"),
            "match_re": raw.get("source_match_re"),
            "matchers": raw.get("source_matchers"),
        },
        f"{where}.source",
    )
    target = _matchers(
        {
            "match": raw.get("target_match"),
            "match_re": raw.get("target_match_re"),
            "matchers": raw.get("target_matchers"),
        },
        f"{where}.target",
    )
    equal = tuple(str(e) for e in _list(raw.get("equal"), f"{where}.equal"))
    return InhibitRule(tuple(source), tuple(target), equal)


def parse_config(data: Mapping[str, Any], *, external_url: str = "") -> NotifyConfig:
    """Build a ``NotifyConfig`` from a parsed alertmanager.yml (raises ``ConfigError``)."""
    glob = _mapping(data.get("global"), "global")
    receivers: dict[str, ReceiverConfig] = {}
    for i, item in enumerate(_list(data.get("receivers"), "receivers")):
        receiver = _receiver(_mapping(item, f"receivers[{i}]"), glob, f"receivers[{i}]")
        if receiver.name in receivers:
            raise ConfigError(f"receivers[{i}].name: receiver {receiver.name!r} is defined twice")
        receivers[receiver.name] = receiver
    route = _route(_mapping(data.get("route"), "route"), None, receivers, "route")
    inhibit = tuple(
        _inhibit(_mapping(r, f"inhibit_rules[{i}]"), f"inhibit_rules[{i}]")
        for i, r in enumerate(_list(data.get("inhibit_rules"), "inhibit_rules"))
    )
    resolve_timeout = parse_duration_ms(glob.get("resolve_timeout", "5m"), "global.resolve_timeout")
    return NotifyConfig(route, receivers, inhibit, resolve_timeout, external_url)
