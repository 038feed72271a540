"""examples/verification_api end to end: real faults in the fake model upstream fire the
spec's alerts on `watchkeeper up`, they reach a webhook sink with the spec's labels,
runbook links, routing and grouping, and they resolve once the fault is gone.

The monitor runs the example's own watchkeeper.yaml, changed only for speed and for
this machine (written to tmp_path): the target is the test's port, scrape_interval 1s,
every rate window (built-in `window:` and the custom alerts' `[5m]`) 15s, every `for:`
1s (UpstreamAuthFailing keeps its 0s), the receivers are webhooks to the sink under
the spec's receiver names, group_wait/group_interval 1s. The service reuses canary and
quota results for 1s instead of 30s, and the upstream's quota is 1,000,000 calls so
that the test's steady traffic does not by itself project an exhaustion within the
spec's 6h horizon (at 10 calls/s a 100,000 quota would rightly fire it).

Phases: (1) the model answers wrongly and its quota drains: CanaryFailing,
QuotaLow, QuotaExhaustionPredicted, VerificationFailing{reason=llm_mismatch}; the
detailed health is degraded. (2) 5xx and 401 from the model, 6 s answers:
HighErrorRate, UpstreamAuthFailing, SlowVerifications, and VerificationFailing for
server_error and auth in one grouped notification; slow-call warnings in the log.
(3) the upstream process is stopped: HealthCheckFailing{check=upstream},
VerificationFailing{reason=network}, the detailed health is unhealthy (503); it is
started again and everything resolves.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import httpx
import pytest
from examples.verification_api.app import Upstream, VerificationError
from examples.verification_api.claims import ClaimError, evaluate, format_number, parse_claim
from ruamel.yaml import YAML

from tests.examples.harness import (
    ROOT,
    Sink,
    Traffic,
    fault,
    free_port,
    logs_on_failure,
    query,
    running_service,
    wait_for,
    watchkeeper_up,
)
from watchkeeper import Registry
from watchkeeper.instrument.exposition import render

EXAMPLE = ROOT / "examples" / "verification_api"
SERVICE = "verification-api"
RUNBOOKS = "examples/verification_api/runbooks"


# -- the example's own logic (fast) -------------------------------------------------------


def test_claims_are_parsed_and_evaluated_exactly() -> None:
    assert parse_claim("17*3 = 51") == ("17*3", Fraction(51))
    assert evaluate("1/3 + 1/6") == Fraction(1, 2)
    assert format_number(Fraction(1, 4)) == "0.25"
    assert format_number(Fraction(1, 3)) == "1/3"
    for bad in ["2+2", "2+2=4=4", "__import__('os')=1", "2**99=1", "1/0=1", "True=1", "x" * 201]:
        with pytest.raises(ClaimError):
            parse_claim(bad)


@contextlib.contextmanager
def upstream_in_thread(**kwargs: Any) -> Iterator[str]:
    import uvicorn
    from examples.verification_api.upstream import create_upstream

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_upstream(**kwargs), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 30, "the fake upstream to start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def test_every_upstream_failure_has_its_error_type() -> None:
    """Each failure of a real upstream call maps to the guide's error types, in the
    exception's reason and in llm_requests_total{error_type}."""
    asyncio.run(_upstream_failures())


async def _upstream_failures() -> None:
    registry = Registry()
    with upstream_in_thread(quota_limit=4) as base:
        good = Upstream(base, "demo-key", timeout=0.5, registry=registry)
        assert await good.solve("6*7") == "42"
        cases: list[tuple[Upstream, str, str | None]] = [
            (Upstream(base, "wrong-key", 0.5, registry), "auth", None),
            (good, "validation", None),  # the model refuses what it cannot parse: 400
            (good, "server_error", "errors"),
            (good, "timeout", "latency"),
        ]
        for client, reason, name in cases:
            if name:
                fault(base, name, value=1.0)
            with pytest.raises(VerificationError) as caught:
                await client.solve("1+" if reason == "validation" else "1+1")
            assert caught.value.reason == reason, caught.value
            if name:
                fault(base, name, on=False)
        # The timed-out call still completes (and is charged) upstream a moment later.
        wait_for(lambda: good.quota_status()["used"] == 2, 10, "the timed-out call's charge")
        await good.solve("1+1")
        await good.solve("1+1")  # the fourth call of a quota of 4
        with pytest.raises(VerificationError) as caught:
            await good.solve("1+1")
        assert caught.value.reason == "quota_exhausted"
        assert good.quota_status() == {"limit": 4, "used": 4, "remaining": 0}
    with pytest.raises(VerificationError) as caught:
        await good.solve("1+1")  # nobody listens there any more
    assert caught.value.reason == "network"
    for client in {good, *(c for c, _, _ in cases)}:
        await client.client.aclose()
    text = render(registry)
    for reason in ["auth", "validation", "server_error", "timeout", "quota_exhausted", "network"]:
        assert f'error_type="{reason}"}} 1' in text, text
    assert 'llm_requests_total{model="fake-solver-1",result="ok"} 3' in text, text


# -- end to end (slow) --------------------------------------------------------------------


def make_spec(tmp_path: Path, port: int, sink: Sink) -> Path:
    """The example's spec, changed only for speed and this machine (see the docstring)."""
    yaml = YAML(typ="safe")
    spec: dict[str, Any] = yaml.load((EXAMPLE / "watchkeeper.yaml").read_text())
    spec["targets"] = [f"127.0.0.1:{port}"]
    spec["scrape_interval"] = "1s"
    for name, override in spec["alerts"].items():
        if name == "custom":
            for alert in override:
                alert["expr"] = alert["expr"].replace("[5m]", "[15s]")
                if alert["for"] != "0s":
                    alert["for"] = "1s"
        else:
            override["for"] = "1s"
            if name in ("HighErrorRate", "HighLatencyP99", "QuotaExhaustionPredicted"):
                override["window"] = "15s"
    spec["alerts"]["HealthCheckFailing"] = {"for": "1s"}  # a built-in the spec leaves as is
    notify = spec["notify"]
    notify.update(group_wait="1s", group_interval="1s", repeat_interval="1h")
    notify["receivers"] = [
        {"name": r["name"], "webhook": {"url": sink.url}} for r in notify["receivers"]
    ]
    path = tmp_path / "watchkeeper.yaml"
    with path.open("w") as out:
        yaml.dump(spec, out)
    return path


def received_since(sink: Sink, mark: int) -> list[dict[str, Any]]:
    return sink.received()[mark:]


def find(
    sink: Sink, mark: int, name: str, status: str, **labels: str
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(notification, alert) pairs since ``mark`` for alert ``name`` in ``status``."""
    return [
        (body, alert)
        for body in received_since(sink, mark)
        for alert in body.get("alerts", [])
        if alert["labels"].get("alertname") == name
        and alert["status"] == status
        and all(alert["labels"].get(k) == v for k, v in labels.items())
    ]


def expect(
    sink: Sink, mark: int, name: str, status: str = "firing", timeout_s: float = 90.0, **labels: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Wait for the alert to arrive in ``status``; check its labels, links and routing."""
    what = f"{name}{labels or ''} {status}"
    body, alert = wait_for(lambda: find(sink, mark, name, status, **labels), timeout_s, what)[-1]
    severity = alert["labels"]["severity"]
    assert alert["labels"]["service"] == SERVICE, alert
    assert alert["labels"]["team"] == "verification", alert
    assert body["receiver"] == (
        "verification-pager" if severity == "critical" else "verification-chat"
    ), body
    assert body["groupLabels"] == {"alertname": name, "service": SERVICE}, body
    runbook = alert["annotations"]["runbook_url"]
    assert runbook == f"{RUNBOOKS}/{name}.md", alert
    assert (ROOT / runbook).is_file(), runbook
    assert alert["annotations"]["summary"].startswith(f"{SERVICE}:"), alert
    return body, alert


def all_resolved(sink: Sink, mark: int) -> bool:
    """Every alert that fired since ``mark`` was last reported resolved (by fingerprint)."""
    last: dict[str, str] = {}
    for body in received_since(sink, mark):
        for alert in body["alerts"]:
            last[alert["fingerprint"]] = alert["status"]
    return bool(last) and set(last.values()) == {"resolved"}


def firing_in_api(monitor: str) -> list[dict[str, Any]]:
    data = httpx.get(f"{monitor}/api/v1/alerts", timeout=10).json()["data"]["alerts"]
    return [a for a in data if a["state"] == "firing"]


def detailed(base: str) -> tuple[int, dict[str, Any]]:
    response = httpx.get(f"{base}/health/detailed", timeout=15)
    return response.status_code, response.json()


@pytest.mark.slow
def test_faults_fire_and_resolve_the_guides_alerts(tmp_path: Path) -> None:
    started = time.monotonic()
    port, upstream_port = free_port(), free_port()
    base, upstream = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{upstream_port}"
    service_log, upstream_log, monitor_log = (
        tmp_path / "service.log",
        tmp_path / "upstream.log",
        tmp_path / "monitor.log",
    )
    upstream_cmd = ["{python}", "-m", "examples.verification_api.upstream",
                    "--port", str(upstream_port), "--quota-limit", "1000000"]  # fmt: skip
    service_cmd = ["{python}", "-m", "examples.verification_api", "--port", str(port),
                   "--upstream-port", str(upstream_port), "--canary-every", "1",
                   "--quota-every", "1"]  # fmt: skip
    with contextlib.ExitStack() as stack:
        stack.enter_context(logs_on_failure(service_log, upstream_log, monitor_log))
        sink = stack.enter_context(Sink().start())
        upstream_stack = contextlib.ExitStack()
        stack.enter_context(upstream_stack)
        upstream_stack.enter_context(
            running_service(upstream_cmd, ready_url=f"{upstream}/health", log_path=upstream_log)
        )
        stack.enter_context(
            running_service(service_cmd, ready_url=f"{base}/health", log_path=service_log)
        )
        spec = make_spec(tmp_path, port, sink)
        monitor, _ = stack.enter_context(
            watchkeeper_up(tmp_path / "data", "-f", str(spec), "--evaluation-interval", "1s",
                           "--alert-resend-delay", "1s", log_path=monitor_log)
        )  # fmt: skip
        stack.enter_context(
            Traffic(base, [("POST", "/verify")], rate_per_s=8, json={"claim": "17*3=51"})
        )
        stack.enter_context(
            Traffic(base, [("POST", "/verify")], rate_per_s=1, json={"claim": "2+=5"})
        )

        # Baseline: scraped, quota known, invalid claims counted but alerting on nothing.
        job = f'job="{SERVICE}"'
        wait_for(lambda: query(monitor, f"quota_remaining{{{job}}} > 900000"), 60, "quota")
        wait_for(
            lambda: query(monitor, f'outcomes_total{{{job},reason="validation"}} > 0'),
            30,
            "traffic",
        )
        assert detailed(base)[1]["status"] == "healthy"
        assert firing_in_api(monitor) == []

        print(f"{time.monotonic() - started:.1f} s: phase 1, wrong answers and quota drain")
        # 1. Wrong answers: the canary says degraded, with the reason.
        mark = len(sink.received())
        fault(upstream, "wrong_answer")
        wait_for(
            lambda: "llm_mismatch" in str(detailed(base)[1]["checks"]["canary"]["error"]), 30,
            "the canary to fail on the wrong answer",
        )  # fmt: skip
        status, report = detailed(base)
        assert (status, report["status"]) == (200, "degraded"), report
        assert report["checks"]["upstream"]["status"] == "pass", report
        #    ... and the quota drains (250,000 calls a second by someone else).
        fault(upstream, "quota_drain", value=250000)
        _, canary = expect(sink, mark, "CanaryFailing")
        _, mismatch = expect(sink, mark, "VerificationFailing", reason="llm_mismatch")
        _, low = expect(sink, mark, "QuotaLow", quota="qwed-api")
        _, exhaustion = expect(sink, mark, "QuotaExhaustionPredicted", quota="qwed-api")
        assert canary["labels"]["severity"] == low["labels"]["severity"] == "warning"
        assert exhaustion["labels"]["severity"] == "warning"
        assert mismatch["labels"]["severity"] == "critical"
        assert mismatch["annotations"]["summary"].endswith("fail with llm_mismatch"), mismatch
        assert float(low["annotations"]["summary"].rsplit(" has ", 1)[1].split()[0]) < 1000, low
        in_api = {
            (a["labels"]["alertname"], a["labels"].get("reason", ""))
            for a in firing_in_api(monitor)
        }
        assert {("QuotaLow", ""), ("VerificationFailing", "llm_mismatch")} <= in_api, in_api

        mark_clear = len(sink.received())
        fault(upstream, "wrong_answer", on=False)
        fault(upstream, "quota_drain", on=False)
        for name in ["CanaryFailing", "QuotaLow", "QuotaExhaustionPredicted"]:
            expect(sink, mark_clear, name, "resolved")
        expect(sink, mark_clear, "VerificationFailing", "resolved", reason="llm_mismatch")
        # ... and whatever else fired (the drained quota also answered 429: HighErrorRate).
        wait_for(lambda: all_resolved(sink, mark), 90, "every phase 1 alert resolved")
        wait_for(lambda: detailed(base)[1]["status"] == "healthy", 30, "healthy again")

        print(f"{time.monotonic() - started:.1f} s: phase 2, 5xx, 401 and slow answers")
        # 2. 5xx and 401 from the model, 6 s answers (a slow upstream, not yet a timeout).
        mark = len(sink.received())
        fault(upstream, "errors", value=0.3)
        fault(upstream, "auth", value=0.3)
        fault(upstream, "latency", value=6)
        for _ in range(3):  # slow answers: more callers, so that enough requests complete
            stack.enter_context(
                Traffic(base, [("POST", "/verify")], rate_per_s=2, json={"claim": "1+2=3"})
            )
        expect(sink, mark, "HighErrorRate")
        expect(sink, mark, "UpstreamAuthFailing")
        expect(sink, mark, "SlowVerifications")
        grouped = wait_for(
            lambda: [
                b for b in received_since(sink, mark)
                if b["groupLabels"].get("alertname") == "VerificationFailing"
                and {"server_error", "auth"} <= {a["labels"]["reason"] for a in b["alerts"]}
            ],
            90, "VerificationFailing for server_error and auth in one notification",
        )  # fmt: skip
        assert grouped[-1]["receiver"] == "verification-pager"
        # the 6 s answers, logged as slow calls (a loaded machine may add to the 6 s)
        wait_for(
            lambda: [
                float(m) for m in re.findall(r"slow call: verify took (\d+\.\d+) s",
                                            service_log.read_text())
                if float(m) >= 6.0
            ],
            30, "a slow-call warning for a 6 s verification",
        )  # fmt: skip
        types = {
            r["metric"]["error_type"]
            for r in query(monitor, f'llm_requests_total{{{job},result="error"}} > 0')
        }
        assert {"auth", "server_error"} <= types, types

        mark_clear = len(sink.received())
        for name in ["errors", "auth", "latency"]:
            fault(upstream, name, on=False)
        for name in ["HighErrorRate", "UpstreamAuthFailing", "SlowVerifications"]:
            expect(sink, mark_clear, name, "resolved")
        for reason in ["server_error", "auth"]:
            expect(sink, mark_clear, "VerificationFailing", "resolved", reason=reason)
        wait_for(lambda: all_resolved(sink, mark), 90, "every phase 2 alert resolved")

        print(f"{time.monotonic() - started:.1f} s: phase 3, upstream down")
        # 3. The upstream goes down: unhealthy, network errors.
        mark = len(sink.received())
        upstream_stack.close()
        wait_for(lambda: detailed(base)[0] == 503, 30, "unhealthy")
        status, report = detailed(base)
        assert report["status"] == "unhealthy", report
        assert report["checks"]["upstream"]["status"] == "fail", report
        expect(sink, mark, "HealthCheckFailing", check="upstream")
        expect(sink, mark, "VerificationFailing", reason="network")
        in_api = {
            (a["labels"]["alertname"], a["labels"].get("check", "")) for a in firing_in_api(monitor)
        }
        assert ("HealthCheckFailing", "upstream") in in_api, in_api
        assert query(monitor, f'llm_requests_total{{{job},error_type="network"}} > 0')

        mark_clear = len(sink.received())
        upstream_stack.enter_context(
            running_service(
                upstream_cmd,
                ready_url=f"{upstream}/health",
                log_path=upstream_log.with_suffix(".2.log"),
            )
        )
        expect(sink, mark_clear, "HealthCheckFailing", "resolved", check="upstream")
        expect(sink, mark_clear, "VerificationFailing", "resolved", reason="network")
        wait_for(lambda: all_resolved(sink, mark), 90, "every phase 3 alert resolved")
        wait_for(lambda: detailed(base)[1]["status"] == "healthy", 30, "healthy again")
    print(f"verification_api end to end: {time.monotonic() - started:.1f} s")
