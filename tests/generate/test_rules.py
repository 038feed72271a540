"""Properties every generated rule set has, whatever the spec."""

from __future__ import annotations

import json
import re

from ruamel.yaml import YAML

from watchkeeper.generate import build_rule_groups, generate_all
from watchkeeper.generate.rules import AlertRule, RecordingRule
from watchkeeper.spec import SLO_ALERT, ServiceSpec, load_spec_text


def _alerts(spec: ServiceSpec) -> list[AlertRule]:
    return [a for g in build_rule_groups(spec) for a in g.alerts]


def test_every_alert_has_the_required_labels_and_links(shop: ServiceSpec) -> None:
    for alert in _alerts(shop):
        assert re.fullmatch(r"[A-Z][A-Za-z0-9]*", alert.name), alert.name
        assert {"severity", "service"} <= alert.labels.keys(), alert.name
        assert alert.labels["service"] == "shop"
        assert {
            "summary",
            "description",
            "runbook_url",
            "dashboard_url",
        } <= alert.annotations.keys()
        assert alert.annotations["runbook_url"].endswith(f"/{alert.name}.md")


def test_slo_alerts_carry_slo_and_burn_tier(shop: ServiceSpec) -> None:
    slo_alerts = [a for a in _alerts(shop) if a.name == SLO_ALERT]
    assert len(slo_alerts) == 4 + 4 + 2 + 4
    for alert in slo_alerts:
        assert alert.labels["burn_tier"] in {"page", "ticket"}
        assert alert.labels["slo"]
        expected = "critical" if alert.labels["burn_tier"] == "page" else "warning"
        assert alert.labels["severity"] == expected


def test_thresholds_are_exact_decimals(shop: ServiceSpec) -> None:
    exprs = "\n".join(r.expr for g in build_rule_groups(shop) for r in g.rules)
    assert "> 0.0144\n" in exprs  # 14.4 x 0.1%
    assert "> 0.1344\n" in exprs  # 13.44 x 1% (28d window)
    # No float noise such as 0.0009999999999999432 anywhere.
    assert not re.search(r"\d\.\d*(0000000|9999999)\d", exprs)


def test_period_sli_is_a_ratio_of_increases(shop: ServiceSpec) -> None:
    records = {
        r.record: r.expr
        for g in build_rule_groups(shop)
        for r in g.rules
        if isinstance(r, RecordingRule) and r.labels.get("slo") == "availability"
    }
    assert records["slo:sli_error:ratio_increase30d"] == (
        'sum(increase(http_server_request_duration_seconds_count{job="shop",'
        'http_response_status_code=~"5..|429"}[30d])) / '
        'sum(increase(http_server_request_duration_seconds_count{job="shop"}[30d]))'
    )
    assert "avg_over_time" not in records["slo:sli_error:ratio_increase30d"]


def test_low_traffic_guard_is_in_the_burn_alert(shop: ServiceSpec) -> None:
    alert = next(a for a in _alerts(shop) if a.labels.get("slo") == "availability")
    assert alert.expr.endswith(
        "and on ()\n  sum(increase(http_server_request_duration_seconds_count"
        '{job="shop"}[1h])) >= 100'
    )


def test_generated_inhibitions_use_labels_their_targets_carry(shop: ServiceSpec) -> None:
    artifacts = {a.path: a.text for a in generate_all(shop, "shop.yaml")}
    config = YAML(typ="safe").load(artifacts["alertmanager/alertmanager.yml"])
    alerts = _alerts(shop)
    assert len(config["inhibit_rules"]) == 3
    for rule in config["inhibit_rules"]:
        assert rule["equal"]
        targets = [a for a in alerts if _matches(a, rule["target_matchers"])]
        assert targets, rule
        for alert in targets:
            assert set(rule["equal"]) <= alert.labels.keys(), (alert.name, rule)


def _matches(alert: AlertRule, matchers: list[str]) -> bool:
    labels = {"alertname": alert.name, **alert.labels}
    for matcher in matchers:
        name, op, value = re.fullmatch(r'(\w+)(=~|=)"(.*)"', matcher).groups()  # type: ignore[union-attr]
        if op == "=" and labels.get(name) != value:
            return False
        if op == "=~" and not re.fullmatch(value, labels.get(name, "")):
            return False
    return True


def test_secrets_stay_references_unless_expanded(shop: ServiceSpec) -> None:
    plain = {a.path: a.text for a in generate_all(shop, "shop.yaml")}[
        "alertmanager/alertmanager.yml"
    ]
    assert "api_url_file: /etc/alertmanager/secrets/SLACK_WEBHOOK_URL" in plain
    assert "routing_key_file: /etc/alertmanager/secrets/PAGERDUTY_ROUTING_KEY" in plain
    expanded = {
        a.path: a.text
        for a in generate_all(shop, "shop.yaml", {"SLACK_WEBHOOK_URL": "https://hooks.example/x"})
    }["alertmanager/alertmanager.yml"]
    assert "api_url: https://hooks.example/x" in expanded
    assert "routing_key_file:" in expanded  # not in the given environment: stays a reference


def test_disabled_alert_is_not_generated() -> None:
    spec = load_spec_text("service: a\nalerts: {HighCPU: {enabled: false}}\n")
    names = {a.name for a in _alerts(spec)}
    assert "HighCPU" not in names
    assert {"HighErrorRate", "HighLatencyP99", "ServiceDown", "TrafficSpike"} <= names


def test_generation_is_deterministic(shop: ServiceSpec) -> None:
    first = generate_all(shop, "shop.yaml")
    assert first == generate_all(shop, "shop.yaml")
    assert [a.path for a in first] == sorted(a.path for a in first)
    for artifact in first:
        assert "generated by watchkeeper" in artifact.text.split("\n", 3)[0] + artifact.text[:400]


def test_every_alert_has_a_runbook_and_a_test(shop: ServiceSpec) -> None:
    paths = {a.path for a in generate_all(shop, "shop.yaml")}
    alerts = _alerts(shop)
    # TrafficDrop is checked in TrafficSpike's scenario (one day of history, once).
    tested = {a.name for a in alerts if a.scenarios} | {
        name for a in alerts for s in a.scenarios for name, _, _ in s.other_checks
    }
    for alert in alerts:
        assert f"runbooks/{alert.name}.md" in paths
        assert alert.name in tested, f"{alert.name} has no test scenario"


def test_cache_alert_without_redis_when_asked_for() -> None:
    plain = load_spec_text("service: a\n")
    asked = load_spec_text("service: a\nalerts: {CacheHitRateLow: {threshold: 90%}}\n")
    assert "CacheHitRateLow" not in {a.name for a in _alerts(plain)}
    (alert,) = [a for a in _alerts(asked) if a.name == "CacheHitRateLow"]
    assert alert.expr.endswith("< 0.9")


def test_every_dashboard_link_points_at_a_generated_dashboard(shop: ServiceSpec) -> None:
    specs = [shop, load_spec_text("service: a\nalerts: {CacheHitRateLow: {threshold: 0.9}}\n")]
    for spec in specs:
        artifacts = generate_all(spec, "x.yaml")
        uids = {
            json.loads(a.text)["uid"] for a in artifacts if a.path.startswith("grafana/dashboards/")
        }
        for alert in _alerts(spec):
            uid = alert.annotations["dashboard_url"].split("/d/")[1].split("/")[0]
            assert uid in uids, (alert.name, uid)
