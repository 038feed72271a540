"""The LLM gateway (examples/llm_gateway, guide seed 003) under `watchkeeper up`, end to end.

Real processes on 127.0.0.1: the fake OpenAI provider, the gateway (PostgreSQL database
``wk_llm``, Redis db 12) and `watchkeeper up`; two webhook Sinks stand in for the spec's
`pager` (PagerDuty) and `slack` receivers. The test spec is the example's watchkeeper.yaml
loaded with ruamel.yaml (PyYAML is not installed) and changed only for speed and the
environment: the target is this test's port, scrape_interval 1s, the alerts' `for:` 3s and
rate windows 15s (TaskSuccessRateLow's `[5m]` too), both receivers webhooks to the Sinks,
group_wait/group_interval 1s. `watchkeeper up -f` scrapes the spec's exporter jobs at their
`exporter:` addresses, where no real exporter runs here, so `--target
llm-gateway-postgres=.../_exporters/postgres` and `--target
llm-gateway-redis=.../_exporters/redis` replace those addresses with the app's stand-ins
(pg_up from a SELECT 1, the SDK's redis_up; see the example's README), under the jobs the
generated rules select.

Phase 1, the provider fails half the calls and bills runaway generations: TaskSuccessRateLow
and HighErrorRate (critical: pager and slack) and LLMCostOverBudget (warning: slack only).
Phase 2, PostgreSQL and Redis go away (the app's DSNs point at a closed port): /ready is 503
naming both, /health/detailed unhealthy, DatabaseDown and RedisDown (with their
`dependency` label) and HealthCheckFailing per check. Then everything clears and every
alert arrives resolved, except LLMCostOverBudget: its `increase(...[1h])` window is fixed
(the spec's `window:` does not apply to it), so an hour of spend stays over budget and the
alert is asserted still firing in the monitor. The rotated JSON log (max 100 kB, 3 backups)
carries request ids and hashed key ids, never a key.
"""

from __future__ import annotations

import functools
import json
import random
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from ruamel.yaml import YAML

import watchkeeper
from tests.examples.harness import (
    ROOT,
    Pick,
    Sink,
    Traffic,
    alerts_named,
    fault,
    firing,
    free_port,
    logs_on_failure,
    query,
    running_service,
    wait_for,
    watchkeeper_up,
)

pytestmark = pytest.mark.slow

SPEC = ROOT / "examples" / "llm_gateway" / "watchkeeper.yaml"
KEYS = ("sk-e2e-alpha-000001", "sk-e2e-bravo-000002", "sk-e2e-charlie-0003")
HEX16 = re.compile(r"^[0-9a-f]{16}$")


def _task(rng: random.Random) -> Pick:
    """A task sent under one of ``KEYS`` (the gateway needs an API key)."""
    return (
        "POST",
        "/v1/tasks",
        {
            "json": {"prompt": f"summarise ticket {rng.randrange(1000)}"},
            "headers": {"authorization": f"Bearer {rng.choice(KEYS)}"},
        },
    )


def _test_spec(tmp_path: Path, port: int, pager: Sink, slack: Sink) -> Path:
    yaml = YAML(typ="safe")
    spec = yaml.load(SPEC.read_text())
    spec["targets"] = [f"http://127.0.0.1:{port}/metrics"]
    spec["scrape_interval"] = "1s"
    alerts = spec["alerts"]
    for name in ("HighErrorRate", "DatabaseDown", "RedisDown", "HealthCheckFailing"):
        alerts.setdefault(name, {})["for"] = "3s"
    alerts["HighErrorRate"]["window"] = "15s"
    alerts["LLMCostOverBudget"] = {"for": "3s"}
    for alert in alerts["custom"]:
        alert["for"] = "3s"
        alert["expr"] = alert["expr"].replace("[5m]", "[15s]")
    spec["notify"].update(group_wait="1s", group_interval="1s")
    spec["notify"]["receivers"] = [
        {"name": "slack", "webhook": {"url": slack.url}},
        {"name": "pager", "webhook": {"url": pager.url}},
    ]
    path = tmp_path / "watchkeeper.yaml"
    with path.open("w") as f:
        yaml.dump(spec, f)
    return path


def _scalar(monitor: str, promql: str) -> float:
    result = query(monitor, promql)
    assert len(result) == 1, (promql, result)
    return float(result[0]["value"][1])


def _monitor_alerts(monitor: str) -> dict[str, list[dict[str, Any]]]:
    response = httpx.get(f"{monitor}/api/v1/alerts", timeout=10)
    response.raise_for_status()
    by_name: dict[str, list[dict[str, Any]]] = {}
    for alert in response.json()["data"]["alerts"]:
        by_name.setdefault(alert["labels"]["alertname"], []).append(alert)
    return by_name


def _resolved_since(sink: Sink, name: str, start: int) -> list[dict[str, Any]]:
    return [
        alert
        for body in sink.received()[start:]
        for alert in body["alerts"]
        if alert["labels"]["alertname"] == name and alert["status"] == "resolved"
    ]


def _assert_alert(alert: dict[str, Any], name: str, severity: str) -> None:
    labels, annotations = alert["labels"], alert["annotations"]
    assert labels["alertname"] == name
    assert labels["severity"] == severity
    assert labels["service"] == "llm-gateway"
    assert labels["team"] == "ml-platform"
    runbook = annotations["runbook_url"]
    assert runbook == f"examples/llm_gateway/deploy/runbooks/{name}.md"
    assert (ROOT / runbook).is_file(), runbook  # the committed, generated runbook
    assert annotations["summary"]


def _assert_routing_and_grouping(pager: Sink, slack: Sink) -> None:
    """Critical alerts reach the pager and slack, warnings slack only; every notification
    is one group of one alertname and service (the spec's group_by)."""
    for sink, receiver in ((pager, "pager"), (slack, "slack")):
        for body in sink.received():
            assert body["receiver"] == receiver, body
            assert set(body["groupLabels"]) == {"alertname", "service"}, body["groupLabels"]
            for alert in body["alerts"]:
                assert alert["labels"]["alertname"] == body["groupLabels"]["alertname"]
                if receiver == "pager":
                    assert alert["labels"]["severity"] == "critical", alert["labels"]


def _log_lines(paths: list[Path]) -> list[dict[str, Any]]:
    lines = []
    for path in paths:
        for raw in path.read_text(errors="replace").splitlines():
            line = json.loads(raw)  # every line of the file is JSON
            assert isinstance(line, dict)
            lines.append(line)
    return lines


def test_llm_faults_page_and_resolve(tmp_path: Path) -> None:
    port, upstream_port = free_port(), free_port()
    gateway = f"http://127.0.0.1:{port}"
    upstream = f"http://127.0.0.1:{upstream_port}"
    service_log, upstream_log = tmp_path / "service.log", tmp_path / "upstream.log"
    monitor_log, json_log = tmp_path / "monitor.log", tmp_path / "gateway.log"
    with (
        Sink().start() as pager,
        Sink().start() as slack,
        logs_on_failure(service_log, json_log, upstream_log, monitor_log),
        running_service(
            ["{python}", "-m", "examples.llm_gateway.upstream", "--port", str(upstream_port)],
            ready_url=f"{upstream}/health",
            log_path=upstream_log,
        ),
        running_service(
            [
                *("{python}", "-m", "examples.llm_gateway", "--port", str(port)),
                *("--upstream-port", str(upstream_port), "--log-file", str(json_log)),
                *("--log-max-bytes", "100000", "--log-backups", "3"),
            ],
            ready_url=f"{gateway}/ready",
            log_path=service_log,
        ),
        watchkeeper_up(
            tmp_path / "data",
            *("-f", str(_test_spec(tmp_path, port, pager, slack))),
            *("--target", f"llm-gateway-postgres={gateway}/_exporters/postgres"),
            *("--target", f"llm-gateway-redis={gateway}/_exporters/redis"),
            *("--scrape-interval", "1s", "--evaluation-interval", "1s"),
            *("--alert-resend-delay", "1s"),
            log_path=monitor_log,
        ) as (monitor, _),
        Traffic(gateway, [_task], rate_per_s=10) as traffic,
    ):
        # Healthy: tasks are served, measured per model and per (hashed) key.
        traced = httpx.post(
            f"{gateway}/v1/tasks",
            json={"prompt": "hello"},
            headers={"authorization": f"Bearer {KEYS[0]}", "x-request-id": "e2e-llm-0001"},
            timeout=10,
        )
        assert traced.status_code == 200, traced.text
        assert traced.headers["x-request-id"] == "e2e-llm-0001"
        assert traced.json()["model"] == "gpt-4o-mini-2024-07-18"
        wait_for(
            lambda: query(monitor, 'sum(outcomes_total{job="llm-gateway",result="success"}) > 30'),
            60,
            "tasks counted by the monitor",
        )
        wait_for(lambda: query(monitor, "llm_active_api_keys == 3"), 30, "three active keys")
        assert _scalar(monitor, "llm_daily_active_api_keys") == 3
        key_ids = {
            r["metric"]["api_key_id"]
            for r in query(monitor, "sum by (api_key_id) (llm_api_key_requests_total)")
        }
        assert len(key_ids) == 3, key_ids
        assert all(HEX16.match(k) for k in key_ids), key_ids
        assert _scalar(monitor, '60 * sum(rate(llm_tokens_total{job="llm-gateway"}[15s]))') > 0
        average = _scalar(
            monitor,
            'sum(rate(llm_cost_usd_total{job="llm-gateway"}[15s])) / '
            'sum(rate(outcomes_total{job="llm-gateway",operation="task"}[15s]))',
        )
        assert 0 < average < 0.001, average  # gpt-4o-mini, ~75 tokens a task
        assert _scalar(monitor, 'pg_up{job="llm-gateway-postgres"}') == 1
        assert _scalar(monitor, 'redis_up{job="llm-gateway-redis"}') == 1
        usage = httpx.get(
            f"{gateway}/v1/usage", headers={"authorization": f"Bearer {KEYS[0]}"}, timeout=10
        ).json()
        assert usage["tasks"] > 0
        assert usage["cost_usd"] > 0
        assert usage["api_key_id"] in key_ids
        assert not pager.received()
        assert not slack.received()

        # Phase 1: the provider fails half the calls and bills runaway generations.
        fault(upstream, "errors", value=0.5)
        fault(upstream, "expensive")
        for name in ("TaskSuccessRateLow", "HighErrorRate"):
            _assert_alert(firing(pager, name), name, "critical")
            _assert_alert(firing(slack, name), name, "critical")
        assert firing(pager, "TaskSuccessRateLow")["labels"]["component"] == "tasks"
        cost = firing(slack, "LLMCostOverBudget")
        _assert_alert(cost, "LLMCostOverBudget", "warning")
        assert not alerts_named(pager, "LLMCostOverBudget")
        reasons = query(
            monitor, 'sum by (reason) (outcomes_total{job="llm-gateway",result="failure"}) > 0'
        )
        assert {r["metric"]["reason"] for r in reasons} == {"upstream"}
        assert query(monitor, 'llm_requests_total{job="llm-gateway",result="error"} > 0')
        fault(upstream, "errors", on=False)
        fault(upstream, "expensive", on=False)

        # Phase 2: PostgreSQL and Redis go away.
        fault(gateway, "db_down")
        fault(gateway, "redis_down")
        ready = wait_for(  # check results are cached for a second
            lambda: (
                (r := httpx.get(f"{gateway}/ready", timeout=10)).status_code == 503
                and set(r.json()["failing"]) == {"postgres", "redis"}
                and r
            ),
            30,
            "/ready 503 naming postgres and redis",
        )
        assert ready.json()["status"] == "unready"
        detailed = httpx.get(f"{gateway}/health/detailed", timeout=10)
        assert detailed.status_code == 503
        assert detailed.json()["status"] == "unhealthy"
        assert "Connection refused" in detailed.json()["checks"]["postgres"]["error"]
        for name, dependency in (("DatabaseDown", "postgres"), ("RedisDown", "redis")):
            alert = firing(pager, name)
            _assert_alert(alert, name, "critical")
            assert alert["labels"]["dependency"] == dependency
            assert alert["labels"]["job"] == f"llm-gateway-{dependency}"
        checks = wait_for(
            lambda: (
                {a["labels"]["check"] for a in alerts_named(pager, "HealthCheckFailing", "firing")}
                >= {"postgres", "redis"}
                and alerts_named(pager, "HealthCheckFailing", "firing")
            ),
            60,
            "HealthCheckFailing for postgres and redis",
        )
        _assert_alert(checks[-1], "HealthCheckFailing", "critical")
        active = _monitor_alerts(monitor)
        for name in ("DatabaseDown", "RedisDown", "HealthCheckFailing", "TaskSuccessRateLow"):
            assert any(a["state"] == "firing" for a in active.get(name, [])), (name, active)
        assert query(monitor, 'pg_up{job="llm-gateway-postgres"} == 0')
        assert query(monitor, 'redis_up{job="llm-gateway-redis"} == 0')
        reasons = query(
            monitor, 'sum by (reason) (increase(outcomes_total{job="llm-gateway"}[5s])) > 0'
        )
        assert "redis" in {r["metric"].get("reason") for r in reasons}, reasons

        # Cleared: every alert resolves (LLMCostOverBudget cannot: its window is an hour).
        marks = {id(pager): len(pager.received()), id(slack): len(slack.received())}
        fault(gateway, "db_down", on=False)
        fault(gateway, "redis_down", on=False)
        wait_for(
            lambda: httpx.get(f"{gateway}/ready", timeout=10).status_code == 200,
            30,
            "/ready 200 again",
        )
        for name in ("DatabaseDown", "RedisDown", "TaskSuccessRateLow", "HighErrorRate"):
            for sink in (pager, slack):
                start = marks[id(sink)]
                wait_for(
                    functools.partial(_resolved_since, sink, name, start), 120, f"{name} resolved"
                )
        wait_for(
            lambda: (
                {
                    a["labels"]["check"]
                    for a in _resolved_since(pager, "HealthCheckFailing", marks[id(pager)])
                }
                >= {"postgres", "redis"}
            ),
            60,
            "HealthCheckFailing resolved for both checks",
        )
        still = _monitor_alerts(monitor)
        assert [a["state"] for a in still["LLMCostOverBudget"]] == ["firing"]
        assert "DatabaseDown" not in still, still
        assert "RedisDown" not in still, still
        _assert_routing_and_grouping(pager, slack)
        assert traffic.statuses.get(200, 0) > 50, traffic.statuses
        assert {502, 503} <= set(traffic.statuses), traffic.statuses
        assert not traffic.errors, traffic.statuses
        last = httpx.post(
            f"{gateway}/v1/tasks",
            json={"prompt": "bye"},
            headers={"authorization": f"Bearer {KEYS[1]}", "x-request-id": "e2e-llm-last"},
            timeout=10,
        )
        assert last.status_code == 200, last.text

    # The JSON log rotated (100 kB, 3 backups): request ids on every request's lines,
    # the hashed key id on the tasks', the API keys nowhere.
    rotated = sorted(tmp_path.glob("gateway.log.*"))
    assert "gateway.log.1" in [p.name for p in rotated], rotated
    assert len(rotated) <= 3
    assert all(p.stat().st_size <= 100_000 for p in [json_log, *rotated])
    lines = _log_lines([*reversed(rotated), json_log])
    tasks = [line for line in lines if line["message"] == "task done"]
    assert tasks
    assert all(HEX16.match(t["key_id"]) and t["request_id"] for t in tasks)
    assert {t["key_id"] for t in tasks} <= key_ids
    failures = [line for line in lines if line["message"] == "task failed"]
    assert "redis" in {f["reason"] for f in failures}
    assert all(f["exception"]["type"] for f in failures)
    text = "".join(p.read_text() for p in [*rotated, json_log])
    assert not any(key in text for key in KEYS)
    mine = [line for line in lines if line.get("request_id") == "e2e-llm-last"]
    assert {line["message"] for line in mine} >= {"task done"}, mine
    assert mine[-1]["key_id"] == watchkeeper.llm.key_id(KEYS[1])
