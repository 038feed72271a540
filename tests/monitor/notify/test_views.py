"""The shown configuration keeps everything but secrets."""

from __future__ import annotations

from pathlib import Path

import orjson

from watchkeeper.monitor.notify import config_from_spec, parse_config
from watchkeeper.monitor.notify.views import config_view

SHOP = Path(__file__).resolve().parents[3] / "examples" / "specs" / "shop.yaml"


def test_the_shop_spec_shows_routes_receivers_and_secret_sources() -> None:
    view = config_view(config_from_spec(SHOP))
    assert view["route"]["receiver"] == "shop-slack"
    assert view["route"]["group_by"] == ["alertname", "service", "slo"]
    dba, pager, audit = view["route"]["routes"]
    assert (dba["matchers"], dba["continue"]) == (['alertname="DatabaseDown"'], True)
    assert pager["repeat_interval"] == "1h"
    assert audit["matchers"] == ['alertname=~"Traffic.*"']
    receivers = {r["name"]: r for r in view["receivers"]}
    assert receivers["shop-slack"]["slack_configs"][0]["api_url"] == "${SLACK_WEBHOOK_URL}"
    assert receivers["dba"]["email_configs"][0]["auth_password"] == "${SMTP_PASSWORD}"
    assert len(view["inhibit_rules"]) == 3


def test_secrets_written_in_clear_are_redacted() -> None:
    config = parse_config(
        {
            "route": {"receiver": "r"},
            "receivers": [
                {
                    "name": "r",
                    "webhook_configs": [{"url": "https://u:pw@hook.example/x?token=QUERYSECRET"}],
                    "slack_configs": [
                        {"api_url": "https://hooks.slack.com/services/T/B/SLACKSECRET"}
                    ],
                    "pagerduty_configs": [{"routing_key": "PDSECRET"}],
                }
            ],
        }
    )
    text = orjson.dumps(config_view(config)).decode()
    for secret in ("QUERYSECRET", "pw@", "SLACKSECRET", "PDSECRET"):
        assert secret not in text
    assert "https://hook.example/x" in text
    assert "<redacted>" in text
