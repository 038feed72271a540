"""The scale path end to end: examples/verification_api monitored at once by the embedded
monitor (`watchkeeper up`) and by the real Prometheus 2.42 + Alertmanager 0.25 running
what `watchkeeper generate` writes for the same spec. The same faults must bring the same
alerts — names, every label, and the receiver the route picked — to each engine's own
webhook sink, and resolve them on both.

The spec is the one test_verification_api.py runs (its ``make_spec``: the example's
watchkeeper.yaml with the test's port, scrape_interval 1s, 15s windows, 1s ``for:``,
webhook receivers at a sink, group_wait/group_interval 1s), written twice, each pointing
at its engine's sink. What `watchkeeper generate` writes is used as is, except where this
machine needs it, like `watchkeeper up`'s flags: prometheus.yml's evaluation_interval 1s
(`--evaluation-interval 1s`), its Alertmanager the local one instead of the compose name
``alertmanager:9093``, its rule file by absolute path; Prometheus runs with
``--rules.alert.resend-delay=1s`` (`--alert-resend-delay 1s`). Both engines scrape the
same service process; the upstream's quota is 1,000,000 calls, as in the embedded test.

The faults: first, all at once (they are independent), the model answers wrongly, its
quota drains, 30 % of its answers are 5xx and 30 % are 401; then the model's process
stops (a dependency down) and starts again. After each, every alert resolves on both.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.examples.harness import (
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
from tests.examples.test_verification_api import make_spec
from tests.support.alertmanager import running_alertmanager
from tests.support.prometheus import running_prometheus

pytestmark = pytest.mark.slow

SERVICE = "verification-api"
EXPECTED = {
    "CanaryFailing",
    "VerificationFailing",
    "QuotaLow",
    "QuotaExhaustionPredicted",
    "HighErrorRate",
    "UpstreamAuthFailing",
}
# What one alert notification is compared by: the receiver it was routed to and its labels.
Key = tuple[str, tuple[tuple[str, str], ...]]


def generated(spec: Path, out: Path) -> Path:
    """Run `watchkeeper generate` on ``spec`` (the real CLI, as a user would)."""
    command = [sys.executable, "-m", "watchkeeper.cli", "generate", "-f", str(spec)]
    result = subprocess.run(
        [*command, "--out", str(out)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def prometheus_config(out: Path, alertmanager: str) -> str:
    """The generated prometheus.yml, changed only as the module docstring says."""
    yaml = YAML(typ="safe")
    config: dict[str, Any] = yaml.load((out / "prometheus" / "prometheus.yml").read_text())
    config["global"]["evaluation_interval"] = "1s"
    config["rule_files"] = [str(out / "prometheus" / rule) for rule in config["rule_files"]]
    (am,) = config["alerting"]["alertmanagers"]
    am["static_configs"] = [{"targets": [alertmanager.removeprefix("http://")]}]
    assert [job["job_name"] for job in config["scrape_configs"]] == [SERVICE]
    text = io.StringIO()
    yaml.dump(config, text)
    return text.getvalue()


def notified(sink: Sink, mark: int, status: str) -> set[Key]:
    return {
        (body["receiver"], tuple(sorted(alert["labels"].items())))
        for body in sink.received()[mark:]
        for alert in body.get("alerts", [])
        if alert["status"] == status
    }


def names(keys: set[Key]) -> set[str]:
    return {dict(labels)["alertname"] for _, labels in keys}


def converge(
    embedded: Callable[[], set[Key]], scale: Callable[[], set[Key]], what: str
) -> set[Key]:
    """Wait until both engines' sinks hold the same set; fail with the difference."""
    try:
        wait_for(lambda: embedded() == scale(), 90, what)
    except AssertionError:
        a, b = embedded(), scale()
        raise AssertionError(
            f"{what}: only embedded {sorted(a - b)}; only Prometheus+Alertmanager {sorted(b - a)}"
        ) from None
    return embedded()


def test_same_faults_same_alerts_on_both_engines(tmp_path: Path) -> None:
    started = time.monotonic()
    port, upstream_port = free_port(), free_port()
    base, upstream = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{upstream_port}"
    logs = {n: tmp_path / f"{n}.log" for n in ("service", "upstream", "monitor")}
    upstream_cmd = ["{python}", "-m", "examples.verification_api.upstream",
                    "--port", str(upstream_port), "--quota-limit", "1000000"]  # fmt: skip
    service_cmd = ["{python}", "-m", "examples.verification_api", "--port", str(port),
                   "--upstream-port", str(upstream_port), "--canary-every", "1",
                   "--quota-every", "1"]  # fmt: skip
    embedded_dir, scale_dir = tmp_path / "embedded", tmp_path / "scale"
    embedded_dir.mkdir()
    scale_dir.mkdir()
    with contextlib.ExitStack() as stack:
        stack.enter_context(
            logs_on_failure(
                *logs.values(),
                scale_dir / "prometheus.log",
                scale_dir / "alertmanager.log",
            )
        )
        embedded_sink = stack.enter_context(Sink().start())
        scale_sink = stack.enter_context(Sink().start())
        upstream_stack = stack.enter_context(contextlib.ExitStack())
        upstream_stack.enter_context(
            running_service(upstream_cmd, ready_url=f"{upstream}/health", log_path=logs["upstream"])
        )
        stack.enter_context(
            running_service(service_cmd, ready_url=f"{base}/health", log_path=logs["service"])
        )
        # The scale path: generate, then Alertmanager and Prometheus on what was generated.
        out = generated(make_spec(scale_dir, port, scale_sink), scale_dir / "monitoring")
        alertmanager = stack.enter_context(
            running_alertmanager(out / "alertmanager" / "alertmanager.yml", scale_dir)
        )
        prometheus = stack.enter_context(
            running_prometheus(
                scale_dir / "tsdb",
                scale_dir,
                config_text=prometheus_config(out, alertmanager),
                extra_args=["--rules.alert.resend-delay=1s"],
            )
        )
        # The embedded path: the same spec (its own sink) under `watchkeeper up`.
        monitor, _ = stack.enter_context(
            watchkeeper_up(
                embedded_dir / "data",
                *("-f", str(make_spec(embedded_dir, port, embedded_sink))),
                *("--evaluation-interval", "1s", "--alert-resend-delay", "1s"),
                log_path=logs["monitor"],
            )
        )
        stack.enter_context(
            Traffic(base, [("POST", "/verify")], rate_per_s=8, json={"claim": "17*3=51"})
        )
        stack.enter_context(
            Traffic(base, [("POST", "/verify")], rate_per_s=1, json={"claim": "2+=5"})
        )

        # Baseline: both engines scrape the service and know the quota; nothing fires.
        for engine in (monitor, prometheus):
            wait_for(
                lambda e=engine: query(e, f'quota_remaining{{job="{SERVICE}"}} > 900000'),  # type: ignore[misc]
                60,
                f"{engine} to scrape the quota",
            )
        assert not query(prometheus, 'ALERTS{alertstate="firing"}')
        assert not query(monitor, 'ALERTS{alertstate="firing"}')
        marks = len(embedded_sink.received()), len(scale_sink.received())

        # The faults, all at once.
        fault(upstream, "wrong_answer")
        fault(upstream, "quota_drain", value=250000)
        fault(upstream, "errors", value=0.3)
        fault(upstream, "auth", value=0.3)

        def embedded_firing() -> set[Key]:
            return notified(embedded_sink, marks[0], "firing")

        def scale_firing() -> set[Key]:
            return notified(scale_sink, marks[1], "firing")

        wait_for(lambda: names(embedded_firing()) >= EXPECTED, 120, "embedded alerts")
        wait_for(lambda: names(scale_firing()) >= EXPECTED, 120, "Prometheus+Alertmanager alerts")
        fired = converge(embedded_firing, scale_firing, "the same alerts firing")
        by_name = {
            dict(labels)["alertname"]: (receiver, dict(labels)) for receiver, labels in fired
        }
        assert by_name["HighErrorRate"][0] == "verification-pager"  # critical: routed
        assert by_name["CanaryFailing"][0] == "verification-chat"
        assert {
            dict(labels).get("reason")
            for _, labels in fired
            if "VerificationFailing" in str(labels)
        } >= {"llm_mismatch", "server_error", "auth"}
        for _, labels in fired:
            assert dict(labels)["service"] == SERVICE
            assert "severity" in dict(labels)

        # Clear: every alert resolves at both sinks, the same ones.
        marks = len(embedded_sink.received()), len(scale_sink.received())
        for name in ("wrong_answer", "quota_drain", "errors", "auth"):
            fault(upstream, name, on=False)
        wait_for(
            lambda: fired <= notified(embedded_sink, marks[0], "resolved"), 120, "embedded resolved"
        )
        wait_for(lambda: fired <= notified(scale_sink, marks[1], "resolved"), 120, "scale resolved")
        converge(
            lambda: notified(embedded_sink, marks[0], "resolved"),
            lambda: notified(scale_sink, marks[1], "resolved"),
            "the same alerts resolved",
        )

        # A dependency down: the upstream process stops, then starts again.
        marks = len(embedded_sink.received()), len(scale_sink.received())
        upstream_stack.close()
        down = {"HealthCheckFailing", "VerificationFailing"}
        wait_for(lambda: down <= names(embedded_firing()), 120, "embedded: upstream down")
        wait_for(lambda: down <= names(scale_firing()), 120, "scale: upstream down")
        fired_down = converge(embedded_firing, scale_firing, "the same alerts, upstream down")
        assert {dict(lb).get("check") for _, lb in fired_down} >= {"upstream"}
        assert {dict(lb).get("reason") for _, lb in fired_down} >= {"network"}
        marks = len(embedded_sink.received()), len(scale_sink.received())
        upstream_stack.enter_context(
            running_service(
                upstream_cmd,
                ready_url=f"{upstream}/health",
                log_path=logs["upstream"].with_suffix(".2.log"),
            )
        )
        for sink, mark in ((embedded_sink, marks[0]), (scale_sink, marks[1])):
            wait_for(
                lambda s=sink, m=mark: fired_down <= notified(s, m, "resolved"),  # type: ignore[misc]
                120,
                "resolved, upstream up",
            )
        # Only this phase's alerts: Prometheus re-sends resolved alerts to Alertmanager
        # for 15 minutes, and a group's next notification may carry the earlier
        # resolutions again (Alertmanager sends every alert the group holds); the
        # embedded notifier does not repeat them.
        converge(
            lambda: notified(embedded_sink, marks[0], "resolved") & fired_down,
            lambda: notified(scale_sink, marks[1], "resolved") & fired_down,
            "the same alerts resolved, upstream up",
        )
        fired |= fired_down
    alerts = sorted(f"{dict(lb)['alertname']}{{{dict(lb).get('reason', '')}}}" for _, lb in fired)
    print(f"scale path end to end: {time.monotonic() - started:.1f} s, the same {alerts}")
