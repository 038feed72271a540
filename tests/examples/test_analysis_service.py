"""The analysis service (examples/analysis_service, guide seed 001) under `watchkeeper up`.

End to end on 127.0.0.1: the fake data API, the service and `watchkeeper up` run as real
processes; two webhook sinks stand in for the spec's two receivers. The test spec is the
example's watchkeeper.yaml loaded with ruamel.yaml (the spec loader's YAML; PyYAML is not
installed here) and changed only for speed and the environment: the target and the data
API's URL point at this test's ports, scrape_interval 1s, the custom alerts' `for:` 2s
and their `[5m]` windows 10s, the `pager` (PagerDuty) and `chat` (Slack) receivers become
webhooks to the `pager` and `chat` sinks, group_wait/group_interval 1s. Built-in alerts
keep their `for:`, so none of them can fire within the test.

Faults, all at once (they are independent): 50% of analyses fail (AnalysisFailureRate,
critical -> pager only), analyses take 3 s longer (AnalysisSlow per dataset, warning ->
chat only, one notification grouping the three datasets), and the data API answers in
0.75 s (DataApiSlow from the monitor's own probe of the dependency, warning -> chat only;
/health/detailed degraded). Then every alert must arrive resolved at the same receiver.

Spans are checked without a collector: the service runs with the "none" exporter, and
its JSON log lines carry the current span's trace_id/span_id; each phase logs one line
inside its span, so an analysis must show its four phases under one trace id (the one
GET /analyses/{id} reports) with four distinct span ids.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from examples._shared.faults import FaultSwitch
from examples.analysis_service.app import PHASES, Settings, create_app, fatigued_creatives
from fastapi.testclient import TestClient
from ruamel.yaml import YAML

from tests.examples.harness import (
    ROOT,
    Sink,
    Traffic,
    alerts_named,
    fault,
    firing,
    free_port,
    logs_on_failure,
    query,
    resolved,
    running_service,
    wait_for,
    watchkeeper_up,
)

SPEC = ROOT / "examples" / "analysis_service" / "watchkeeper.yaml"
RUNBOOKS = "https://github.com/example/creativedynamics/blob/main/monitoring/runbooks"
DATASETS = ("sales", "ads", "social")


# -- fast: the example's own logic -----------------------------------------------------
def _rows(creative: str, ctrs: list[float]) -> list[dict[str, Any]]:
    return [
        {"creative_id": creative, "day": day, "impressions": 10_000, "clicks": int(1e4 * ctr)}
        for day, ctr in enumerate(ctrs)
    ]


def test_fatigue_is_a_falling_click_through_rate() -> None:
    rows = _rows("tired", [0.03] * 10 + [0.02] * 10 + [0.01] * 10) + _rows("fresh", [0.02] * 30)
    assert fatigued_creatives(rows) == ["tired"]


def test_health_thresholds_trip_memory_and_disk() -> None:
    """The memory and disk checks are wired with the service's thresholds (an
    impossible threshold fails them: the host is not really out of either)."""
    settings = Settings(
        upstream_url=f"http://127.0.0.1:{free_port()}",  # nothing listens: data-api fails
        max_memory_percent=0.0,
        min_disk_free_percent=100.0,
    )
    app = create_app(settings, FaultSwitch(["analysis_fail", "analysis_slow"]))
    with TestClient(app) as client:
        response = client.get("/health/detailed")
        ready = client.get("/ready")
    report = response.json()
    assert response.status_code == 200, report  # all non-critical: degraded, still serving
    assert report["status"] == "degraded"
    assert ready.status_code == 200
    checks = report["checks"]
    assert checks["memory"]["status"] == "fail"
    assert "above 0%" in checks["memory"]["error"]
    assert checks["disk:/"]["status"] == "fail"
    assert "below 100%" in checks["disk:/"]["error"]
    assert checks["data-api"]["status"] == "fail"


def test_unknown_dataset_is_a_404_naming_the_datasets() -> None:
    app = create_app(Settings(), FaultSwitch(["analysis_fail", "analysis_slow"]))
    with TestClient(app) as client:
        response = client.post("/analyses/nope")
    assert response.status_code == 404
    assert "sales" in response.json()["detail"]


# -- slow: end to end ------------------------------------------------------------------
def _test_spec(tmp_path: Path, port: int, upstream_port: int, pager: Sink, chat: Sink) -> Path:
    yaml = YAML(typ="safe")
    spec = yaml.load(SPEC.read_text())
    spec["targets"] = [f"http://127.0.0.1:{port}/metrics"]
    spec["scrape_interval"] = "1s"
    for dependency in spec["dependencies"]:
        dependency["url"] = f"http://127.0.0.1:{upstream_port}/health"
    for alert in spec["alerts"]["custom"]:
        alert["for"] = "2s"
        alert["expr"] = alert["expr"].replace("[5m]", "[10s]")
    spec["notify"].update(group_wait="1s", group_interval="1s")
    spec["notify"]["receivers"] = [
        {"name": "pager", "webhook": {"url": pager.url}},
        {"name": "chat", "webhook": {"url": chat.url}},
    ]
    path = tmp_path / "watchkeeper.yaml"
    with path.open("w") as f:
        yaml.dump(spec, f)
    return path


def _monitor_alerts(monitor: str) -> dict[str, list[dict[str, Any]]]:
    response = httpx.get(f"{monitor}/api/v1/alerts", timeout=10)
    response.raise_for_status()
    by_name: dict[str, list[dict[str, Any]]] = {}
    for alert in response.json()["data"]["alerts"]:
        by_name.setdefault(alert["labels"]["alertname"], []).append(alert)
    return by_name


def _health(service: str) -> dict[str, Any]:
    response = httpx.get(f"{service}/health/detailed", timeout=10)
    assert response.status_code == 200, response.text  # healthy or degraded, never 503
    return response.json()  # type: ignore[no-any-return]


def _log_lines(path: Path) -> list[dict[str, Any]]:
    lines = []
    for raw in path.read_text(errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            line = json.loads(raw)
            if isinstance(line, dict):
                lines.append(line)
    return lines


def _assert_routing(pager: Sink, chat: Sink) -> None:
    """Critical alerts reach the pager only, warnings the chat only."""
    for sink, receiver, severity in ((pager, "pager", "critical"), (chat, "chat", "warning")):
        for body in sink.received():
            assert body["receiver"] == receiver, body
            for alert in body["alerts"]:
                assert alert["labels"]["severity"] == severity, (receiver, alert["labels"])


def _assert_alert(alert: dict[str, Any], name: str, severity: str, component: str) -> None:
    labels = alert["labels"]
    assert labels["alertname"] == name
    assert labels["severity"] == severity
    assert labels["service"] == "analysis"
    assert labels["team"] == "creative-analytics"
    assert labels["component"] == component
    assert alert["annotations"]["runbook_url"] == f"{RUNBOOKS}/{name}.md"
    assert alert["annotations"]["summary"]


def _analysis_spans(service: str, service_log: Path) -> None:
    """One analysis, start to end: four phase lines under its trace id, distinct spans."""
    started = httpx.post(f"{service}/analyses/ads", params={"items": 60}, timeout=10)
    assert started.status_code == 202
    analysis_id = started.json()["id"]
    done = wait_for(
        lambda: (
            (a := httpx.get(f"{service}/analyses/{analysis_id}", timeout=10).json())["status"]
            != "running"
            and a
        ),
        30,
        "the analysis to finish",
    )
    assert done["status"] == "success", done
    assert done["bytes"] > 0
    assert len(done["trace_id"]) == 32
    phases = wait_for(
        lambda: [
            line
            for line in _log_lines(service_log)
            if line.get("analysis_id") == analysis_id and line["message"] == "phase done"
        ],
        10,
        "the phase log lines",
    )
    assert [line["phase"] for line in phases] == list(PHASES)
    assert {line["trace_id"] for line in phases} == {done["trace_id"]}
    assert len({line["span_id"] for line in phases}) == len(PHASES)


@pytest.mark.slow
def test_faults_page_the_pager_and_warn_the_chat(tmp_path: Path) -> None:
    port, upstream_port = free_port(), free_port()
    service = f"http://127.0.0.1:{port}"
    upstream = f"http://127.0.0.1:{upstream_port}"
    service_log, upstream_log = tmp_path / "service.log", tmp_path / "upstream.log"
    monitor_log = tmp_path / "monitor.log"
    with (
        Sink().start() as pager,
        Sink().start() as chat,
        logs_on_failure(service_log, upstream_log, monitor_log),
        running_service(
            ["{python}", "-m", "examples.analysis_service.upstream", "--port", str(upstream_port)],
            ready_url=f"{upstream}/health",
            log_path=upstream_log,
        ),
        running_service(
            [
                *("{python}", "-m", "examples.analysis_service", "--port", str(port)),
                *("--upstream-port", str(upstream_port), "--phase-seconds", "0.05"),
            ],
            ready_url=f"{service}/health",
            log_path=service_log,
        ),
        watchkeeper_up(
            tmp_path / "data",
            "-f",
            str(_test_spec(tmp_path, port, upstream_port, pager, chat)),
            "--evaluation-interval",
            "1s",
            "--alert-resend-delay",
            "1s",
            log_path=monitor_log,
        ) as (monitor, _),
        Traffic(
            service,
            [
                *((lambda rng: ("POST", f"/analyses/{rng.choice(DATASETS)}")),) * 4,
                ("GET", "/health/detailed"),  # keeps the health-check gauges current
            ],
            rate_per_s=8,
        ) as traffic,
    ):
        # Healthy: analyses run and are measured, one trace per analysis.
        _analysis_spans(service, service_log)
        wait_for(
            lambda: query(monitor, 'sum(job_duration_seconds_count{job="analysis"}) > 5'),
            60,
            "analyses counted by the monitor",
        )
        assert _health(service)["status"] == "healthy"
        assert not pager.received()
        assert not chat.received()

        fault(service, "analysis_fail", value=0.5)
        fault(service, "analysis_slow", value=3.0)
        fault(upstream, "slow", value=0.75)

        # The dependency fault shows in the service's own health report (retried: on a
        # loaded machine one run may time out instead of answering slowly) ...
        report = wait_for(
            lambda: (
                (r := _health(service))["status"] == "degraded"
                and "over max_latency 500 ms" in (r["checks"]["data-api"]["error"] or "")
                and r
            ),
            30,
            "/health/detailed degraded by the data API's latency",
        )
        assert report["checks"]["data-api"]["status"] == "fail"
        assert report["checks"]["memory"]["status"] == "pass"

        # ... and every alert at its receiver.
        failing = firing(pager, "AnalysisFailureRate")
        _assert_alert(failing, "AnalysisFailureRate", "critical", "analysis")
        api_slow = firing(chat, "DataApiSlow")
        _assert_alert(api_slow, "DataApiSlow", "warning", "data-api")
        grouped = wait_for(
            lambda: [
                body
                for body in chat.received()
                if body["groupLabels"].get("alertname") == "AnalysisSlow"
                and {a["labels"]["dataset"] for a in body["alerts"] if a["status"] == "firing"}
                == set(DATASETS)
            ],
            120,
            "AnalysisSlow firing for the three datasets in one notification",
        )[-1]
        assert grouped["groupLabels"] == {"alertname": "AnalysisSlow", "service": "analysis"}
        for alert in grouped["alerts"]:
            _assert_alert(alert, "AnalysisSlow", "warning", "analysis")
        _assert_routing(pager, chat)
        assert not alerts_named(chat, "AnalysisFailureRate")
        assert not alerts_named(pager, "AnalysisSlow")
        assert not alerts_named(pager, "DataApiSlow")

        # The monitor's API shows the same.
        active = _monitor_alerts(monitor)
        for name in ("AnalysisFailureRate", "AnalysisSlow", "DataApiSlow"):
            assert any(a["state"] == "firing" for a in active.get(name, [])), (name, active)
        assert {a["labels"]["dataset"] for a in active["AnalysisSlow"]} == set(DATASETS)
        reasons = query(
            monitor, 'sum by (reason) (outcomes_total{job="analysis",result="failure"}) > 0'
        )
        assert {r["metric"]["reason"] for r in reasons} == {"model"}
        assert query(monitor, 'watchkeeper_health_check_status{check="data-api"} == 0')
        # the guide's dashboard panels, as the README writes them: analyses pile up while
        # slow, and bytes keep being processed
        wait_for(
            lambda: query(monitor, 'sum(jobs_active{job="analysis",job_name="analysis"}) > 3'),
            30,
            "active analyses piling up",
        )
        assert query(monitor, 'sum(rate(job_processed_bytes_total{job="analysis"}[10s])) > 0')

        # Faults cleared: every alert resolves, at the receiver it fired at.
        fault(service, "analysis_fail", on=False)
        fault(service, "analysis_slow", on=False)
        fault(upstream, "slow", on=False)
        for sink, name in ((pager, "AnalysisFailureRate"), (chat, "DataApiSlow")):
            resolved(sink, name)
        wait_for(
            lambda: (
                {a["labels"]["dataset"] for a in alerts_named(chat, "AnalysisSlow", "resolved")}
                == set(DATASETS)
            ),
            180,
            "AnalysisSlow resolved for the three datasets",
        )
        wait_for(
            lambda: _health(service)["status"] == "healthy",
            30,
            "/health/detailed healthy again",
        )
        _assert_routing(pager, chat)
        assert traffic.statuses.get(202, 0) > 20, traffic.statuses
        assert not traffic.errors, traffic.statuses
