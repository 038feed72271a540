"""The LLM gateway's own parts, fast: the fault switch against real PostgreSQL and Redis,
the fake provider, and the committed Kubernetes/Prometheus output of `watchkeeper generate`
(regenerated identically; the probes hit the paths the app serves), checked without kubectl.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from examples._shared.faults import FaultSwitch
from examples.llm_gateway.app import (
    CHECK_TIMEOUT_S,
    Faults,
    Settings,
    at_port,
    create_app,
)
from examples.llm_gateway.upstream import RUNAWAY_TOKENS, create_upstream
from fastapi.testclient import TestClient
from ruamel.yaml import YAML

from tests.examples.harness import ROOT, free_port, wait_for

EXAMPLE = ROOT / "examples" / "llm_gateway"
SPEC_PATH = "examples/llm_gateway/watchkeeper.yaml"
DEPLOY = EXAMPLE / "deploy"
K8S_DEFAULT_PROBE_TIMEOUT_S = 1  # timeoutSeconds when a probe does not set it
FAULTS = Faults(["db_down", "redis_down"])  # this module's gateway's switch


def _yaml(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text())


def _docs(path: Path) -> list[Any]:
    return [d for d in YAML(typ="safe").load_all(path.read_text()) if d is not None]


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    """The gateway on real PostgreSQL (wk_llm) and Redis (db 12), its provider not running."""
    app = create_app(Settings(upstream_url=f"http://127.0.0.1:{free_port()}/v1"), FAULTS)
    with TestClient(app) as test_client:
        yield test_client


def _metric(text: str, name: str) -> float:
    values = [float(line.split()[-1]) for line in text.splitlines() if line.startswith(name)]
    assert len(values) == 1, (name, text)
    return values[0]


def test_at_port_keeps_the_user_and_database() -> None:
    dsn = "postgresql://app:secret@db.internal:5432/wk_llm"
    assert at_port(dsn, 9) == "postgresql://app:secret@db.internal:9/wk_llm"
    assert at_port("redis://127.0.0.1:6379/12", 9) == "redis://127.0.0.1:9/12"


def test_db_and_redis_down_faults_fail_readiness_and_the_exporters(client: TestClient) -> None:
    faults = FAULTS
    assert client.get("/ready").json() == {"status": "ready"}
    assert _metric(client.get("/_exporters/postgres").text, "pg_up") == 1
    assert _metric(client.get("/_exporters/redis").text, "redis_up{") == 1
    faults.set("db_down")
    faults.set("redis_down")
    try:
        unready = wait_for(
            lambda: (
                (r := client.get("/ready")).status_code == 503
                and set(r.json()["failing"]) == {"postgres", "redis"}
                and r
            ),
            10,
            "/ready 503 naming postgres and redis",
        )
        assert unready.json()["status"] == "unready"
        assert _metric(client.get("/_exporters/postgres").text, "pg_up") == 0
        wait_for(  # INFO is read at most once a second (ttl)
            lambda: _metric(client.get("/_exporters/redis").text, "redis_up{") == 0,
            10,
            "redis_up 0",
        )
        task = client.post(
            "/v1/tasks", json={"prompt": "x"}, headers={"authorization": "Bearer sk-unit-00000001"}
        )
        assert task.status_code == 503  # the rate limiter (Redis) is checked first
        assert task.json()["detail"] == "rate limiter unavailable"
    finally:
        faults.clear("db_down")
        faults.clear("redis_down")
    wait_for(lambda: client.get("/ready").status_code == 200, 10, "/ready 200 again")
    assert _metric(client.get("/_exporters/postgres").text, "pg_up") == 1


def test_tasks_need_a_key_and_a_provider(client: TestClient) -> None:
    assert client.post("/v1/tasks", json={"prompt": "x"}).status_code == 401
    bad = client.post("/v1/tasks", json={"prompt": "x"}, headers={"authorization": "Bearer 123"})
    assert bad.status_code == 401
    down = client.post(
        "/v1/tasks", json={"prompt": "x"}, headers={"authorization": "Bearer sk-unit-00000002"}
    )
    assert down.status_code == 502  # nothing listens on the provider's port
    text = client.get("/metrics").text
    assert 'outcomes_total{operation="task",result="failure",reason="upstream"}' in text
    assert "sk-unit-00000002" not in text


def test_the_fake_provider_fails_and_bills_runaway_generations() -> None:
    faults = FaultSwitch(["errors", "expensive"])
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    with TestClient(create_upstream(faults)) as upstream:
        normal = upstream.post("/v1/chat/completions", json=body).json()
        assert normal["model"] == "gpt-4o-mini-2024-07-18"
        assert normal["usage"]["completion_tokens"] == 64
        faults.set("expensive")
        assert (
            upstream.post("/v1/chat/completions", json=body).json()["usage"]["completion_tokens"]
            == RUNAWAY_TOKENS
        )
        faults.set("errors")  # 1.0: every call
        assert upstream.post("/v1/chat/completions", json=body).status_code == 500


def test_regenerating_deploy_gives_the_committed_files(tmp_path: Path) -> None:
    out = tmp_path / "deploy"
    subprocess.run(
        [sys.executable, "-m", "watchkeeper.cli", "generate", "-f", SPEC_PATH, "--out", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    fresh = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    committed = {p.relative_to(DEPLOY): p.read_bytes() for p in DEPLOY.rglob("*") if p.is_file()}
    assert sorted(fresh) == sorted(committed)
    stale = [str(p) for p in fresh if fresh[p] != committed[p]]
    assert not stale, f"regenerate: watchkeeper generate -f {SPEC_PATH} --out {DEPLOY}"


def test_kubernetes_manifests_are_well_formed_and_match_the_spec() -> None:
    spec = _yaml(EXAMPLE / "watchkeeper.yaml")
    k8s = spec["kubernetes"]
    objects = _docs(DEPLOY / "kubernetes" / "servicemonitor.yaml") + _docs(
        DEPLOY / "kubernetes" / "prometheusrule.yaml"
    )
    for obj in objects:
        assert set(obj) >= {"apiVersion", "kind", "metadata", "spec"}, obj
        assert obj["apiVersion"] == "monitoring.coreos.com/v1"
        assert obj["metadata"]["name"]
        assert obj["metadata"]["namespace"] == k8s["namespace"]
    by_kind = {obj["kind"]: obj for obj in objects}
    assert set(by_kind) == {"ServiceMonitor", "PrometheusRule"}
    monitor = by_kind["ServiceMonitor"]["spec"]
    assert monitor["selector"]["matchLabels"] == k8s["selector"]
    [endpoint] = monitor["endpoints"]
    assert endpoint["port"] == k8s["port"]
    assert endpoint["path"] == "/metrics"
    rules = {
        rule["alert"]: rule
        for group in by_kind["PrometheusRule"]["spec"]["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    assert rules["DatabaseDown"]["expr"].startswith('pg_up{job="llm-gateway-postgres"} == 0')
    assert rules["RedisDown"]["expr"].startswith('redis_up{job="llm-gateway-redis"} == 0')
    assert {"TaskSuccessRateLow", "LLMCostOverBudget", "HighErrorRate"} <= set(rules)


def test_probes_hit_the_paths_the_app_serves_in_time(client: TestClient) -> None:
    spec = _yaml(EXAMPLE / "watchkeeper.yaml")
    probes = _yaml(DEPLOY / "kubernetes" / "probes.yaml")
    live, ready = probes["livenessProbe"], probes["readinessProbe"]
    assert live["httpGet"]["port"] == ready["httpGet"]["port"] == spec["kubernetes"]["port"]
    live_response = client.get(live["httpGet"]["path"])
    assert live_response.status_code == 200
    assert live_response.json() == {"status": "ok"}
    ready_response = client.get(ready["httpGet"]["path"])
    assert ready_response.status_code == 200
    assert ready_response.json() == {"status": "ready"}
    # A probe must outlast the slowest check, or a slow dependency reads as a dead pod.
    timeout = ready.get("timeoutSeconds", K8S_DEFAULT_PROBE_TIMEOUT_S)
    assert timeout > CHECK_TIMEOUT_S
    assert client.get("/metrics").status_code == 200  # the ServiceMonitor's path


def test_hand_written_deployment_fills_what_generate_leaves_out() -> None:
    """k8s/gateway.yaml: the generated probes unchanged, labels the generated ServiceMonitor
    selects, and exporters scraped under the jobs the generated DatabaseDown/RedisDown read."""
    k8s = _yaml(EXAMPLE / "watchkeeper.yaml")["kubernetes"]
    objects = {obj["kind"]: obj for obj in _docs(EXAMPLE / "k8s" / "gateway.yaml")}
    assert set(objects) == {"Deployment", "Service", "ServiceMonitor"}
    assert {obj["metadata"]["namespace"] for obj in objects.values()} == {k8s["namespace"]}
    pod = objects["Deployment"]["spec"]["template"]
    assert pod["metadata"]["labels"].items() >= k8s["selector"].items()
    assert objects["Deployment"]["spec"]["selector"]["matchLabels"] == k8s["selector"]
    containers = {c["name"]: c for c in pod["spec"]["containers"]}
    gateway = containers["gateway"]
    probes = _yaml(DEPLOY / "kubernetes" / "probes.yaml")
    assert gateway["livenessProbe"] == probes["livenessProbe"]
    assert gateway["readinessProbe"] == probes["readinessProbe"]
    assert gateway["args"][:2] == ["--host", "0.0.0.0"]  # probes reach it from the kubelet
    container_ports = {p["name"] for c in containers.values() for p in c["ports"]}
    assert k8s["port"] in container_ports

    service = objects["Service"]
    assert service["metadata"]["labels"].items() >= k8s["selector"].items()
    assert service["spec"]["selector"] == k8s["selector"]
    service_ports = {p["name"]: p for p in service["spec"]["ports"]}
    assert k8s["port"] in service_ports
    assert {p["targetPort"] for p in service_ports.values()} <= container_ports

    rules = {
        rule["alert"]: rule["expr"]
        for doc in _docs(DEPLOY / "kubernetes" / "prometheusrule.yaml")
        for group in doc["spec"]["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    wanted = {
        re.search(r'job="([^"]+)"', rules[name]).group(1)  # type: ignore[union-attr]
        for name in ("DatabaseDown", "RedisDown")
    }
    exporters = objects["ServiceMonitor"]["spec"]
    assert exporters["selector"]["matchLabels"] == k8s["selector"]
    jobs = set()
    for endpoint in exporters["endpoints"]:
        assert endpoint["port"] in service_ports
        jobs |= {r["replacement"] for r in endpoint["relabelings"] if r["targetLabel"] == "job"}
    assert jobs == wanted == {"llm-gateway-postgres", "llm-gateway-redis"}
