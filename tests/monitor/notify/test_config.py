"""alertmanager.yml into the notifier's config: the tree, inheritance, errors, and the
spec's generated file routing like the generator's own model says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from watchkeeper.generate.alertmanager import expected_receivers
from watchkeeper.generate.golden import build_rule_groups
from watchkeeper.monitor.notify import ConfigError, config_from_spec, parse_config
from watchkeeper.monitor.notify.config import EmailConfig, SlackConfig, WebhookConfig
from watchkeeper.spec import load_spec

SHOP = Path(__file__).resolve().parents[3] / "examples" / "specs" / "shop.yaml"


def test_the_shop_spec_routes_every_alert_like_the_generators_model() -> None:
    spec = load_spec(SHOP)
    config = config_from_spec(SHOP)
    alerts = [a for g in build_rule_groups(spec) for a in g.alerts]
    assert alerts
    for alert in alerts:
        labels = {"alertname": alert.name, **alert.labels}
        got = [r.receiver for r in config.route.match(labels)]
        assert got == expected_receivers(spec, labels), labels
    # The spec's inhibition and the generated ones are all there.
    assert len(config.inhibit_rules) == 3
    dba = config.receivers["dba"].integrations[0]
    assert isinstance(dba, EmailConfig)
    assert dba.auth_password is not None
    assert dba.auth_password.env == "SMTP_PASSWORD"
    slack = config.receivers["shop-slack"].integrations[0]
    assert isinstance(slack, SlackConfig)
    assert slack.api_url.env == "SLACK_WEBHOOK_URL"
    assert "SLACK_WEBHOOK_URL" in repr(slack)


def test_children_inherit_and_override() -> None:
    config = parse_config(
        {
            "route": {
                "receiver": "a",
                "group_by": ["alertname"],
                "group_wait": "10s",
                "routes": [
                    {
                        "receiver": "b",
                        "match": {"team": "x"},
                        "group_wait": "1s",
                        "routes": [{"matchers": ['sev=~"crit|page"'], "group_by": ["..."]}],
                    },
                ],
            },
            "receivers": [{"name": "a"}, {"name": "b", "webhook_configs": [{"url": "http://h/"}]}],
        }
    )
    parent = config.route.routes[0]
    child = parent.routes[0]
    assert (parent.receiver, parent.group_by, parent.group_wait_ms) == ("b", ("alertname",), 1000)
    assert (child.receiver, child.group_by_all, child.group_interval_ms) == ("b", True, 300_000)
    assert child.key == '{}/{team="x"}/{sev=~"crit|page"}'
    assert [r.key for r in config.route.match({"team": "x", "sev": "page"})] == [child.key]
    assert [r.key for r in config.route.match({"team": "x"})] == [parent.key]
    assert [r.key for r in config.route.match({"team": "y"})] == ["{}"]
    hook = config.receivers["b"].integrations[0]
    assert isinstance(hook, WebhookConfig)
    assert hook.send_resolved


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"route": {}, "receivers": []}, "route: the root route needs a `receiver`"),
        ({"route": {"receiver": "x"}, "receivers": []}, "route.receiver: names no receiver"),
        (
            {
                "route": {"receiver": "a", "routes": [{"receiver": "a", "matchers": ["bad"]}]},
                "receivers": [{"name": "a"}],
            },
            "route.routes[0]: matcher 'bad'",
        ),
        (
            {"route": {"receiver": "a", "group_wait": "soon"}, "receivers": [{"name": "a"}]},
            "route.group_wait: 'soon' is not a duration",
        ),
        (
            {"route": {"receiver": "a"}, "receivers": [{"name": "a", "opsgenie_configs": [{}]}]},
            "receivers[0].opsgenie_configs[0]: opsgenie_configs is not supported",
        ),
        (
            {"route": {"receiver": "a"}, "receivers": [{"name": "a", "slack_configs": [{}]}]},
            "`api_url` or `api_url_file` is required",
        ),
        (
            {"route": {"receiver": "a", "group_by": ["...", "x"]}, "receivers": [{"name": "a"}]},
            "'...' must be the only entry",
        ),
        (
            {"route": {"receiver": "a"}, "receivers": [{"name": "a"}, {"name": "a"}]},
            "receiver 'a' is defined twice",
        ),
    ],
)
def test_errors_name_the_key(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(data)
    assert message in str(error.value)
