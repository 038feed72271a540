"""``watchkeeper up -f`` scrapes the scrape jobs the generated prometheus.yml has: the
service's and one per postgres/redis exporter (``<service>-<dependency>``, which
DatabaseDown/RedisDown select), and health-probes the service's targets only."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML

from tests.support.watchkeeper import watchkeeper_up
from watchkeeper.cli import monitor_cmds
from watchkeeper.generate import generate_all
from watchkeeper.monitor.server import Monitor, MonitorConfig, spec_less_jobs
from watchkeeper.spec import load_spec

SHOP = Path(__file__).parents[2] / "examples" / "specs" / "shop.yaml"


def _up_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *args: str) -> MonitorConfig:
    """The MonitorConfig `watchkeeper up ARGS` builds (serving replaced by capturing it)."""
    seen: list[MonitorConfig] = []

    def capture(config: MonitorConfig, *, on_listening: object) -> None:
        seen.append(config)

    monkeypatch.setattr(monitor_cmds, "serve", capture)
    result = CliRunner().invoke(monitor_cmds.up, ["--data-dir", str(tmp_path / "data"), *args])
    assert result.exit_code == 0, result.output
    (config,) = seen
    return config


Job = tuple[str, str, tuple[tuple[str, str], ...], float]  # job, URL, labels, interval


def _generated_jobs(spec_path: Path) -> tuple[set[Job], set[Job]]:
    """(scrapes, blackbox probes) of the prometheus.yml `watchkeeper generate` writes."""
    (artifact,) = [
        a for a in generate_all(load_spec(spec_path)) if a.path == "prometheus/prometheus.yml"
    ]
    doc: dict[str, Any] = YAML(typ="safe", pure=True).load(artifact.text)
    interval = float(doc["global"]["scrape_interval"].removesuffix("s"))
    scrapes: set[Job] = set()
    probes: set[Job] = set()
    for job in doc["scrape_configs"]:
        name = job["job_name"]
        for static in job["static_configs"]:
            for target in static["targets"]:
                if "params" in job:  # a blackbox job: instance = the probed URL
                    assert job["params"] == {"module": ["http_2xx"]}
                    labels = {"job": name, "instance": target, **static.get("labels", {})}
                    probes.add((name, target, tuple(sorted(labels.items())), interval))
                else:
                    url = f"{job.get('scheme', 'http')}://{target}"
                    url += job.get("metrics_path", "/metrics")
                    labels = {"job": name, "instance": target, **static.get("labels", {})}
                    scrapes.add((name, url, tuple(sorted(labels.items())), interval))
    return scrapes, probes


def test_embedded_scrape_jobs_equal_the_generated_prometheus_yml(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = _up_config(monkeypatch, tmp_path, "-f", str(SHOP))
    monitor = Monitor(config)
    try:
        assert monitor.scrapes is not None
        assert monitor.probes is not None
        scraped = {
            (s.job, s.url, tuple(sorted(s.labels.items())), s.interval_s)
            for s in monitor.scrapes.status()
        }
        probes = monitor.probes.status()
        probed = {
            (p.job, p.url, tuple(sorted(p.labels.items())), p.interval_s)
            for p in probes
            if not p.job.endswith("-health")
        }
        health = sorted((p.job, p.url) for p in probes if p.job.endswith("-health"))
    finally:
        monitor.store.close()
    generated_scrapes, generated_probes = _generated_jobs(SHOP)
    assert {j[0] for j in generated_scrapes} == {"shop", "shop-orders-db", "shop-sessions"}
    assert scraped == generated_scrapes
    assert probed == generated_probes
    # Readiness probes for the service's two targets; none for the exporters.
    assert health == [
        ("shop-health", "http://shop-1:8000/ready"),
        ("shop-health", "http://shop-2:8000/ready"),
    ]
    # The exporter jobs are the spec's own: no golden-signal rules as if they were services.
    assert spec_less_jobs(config) == []


SPEC = """\
service: demo
scrape_interval: 1s
targets: [{app}]
dependencies:
  - {{kind: postgres, name: db, exporter: "{postgres}"}}
  - {{kind: redis, name: cache, exporter: "{redis}"}}
"""


def test_a_target_flag_for_an_exporter_job_replaces_its_address(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    spec = tmp_path / "watchkeeper.yaml"
    spec.write_text(
        SPEC.format(app="127.0.0.1:8000", postgres="127.0.0.1:9187", redis="127.0.0.1:9121"),
        encoding="utf-8",
    )
    config = _up_config(
        monkeypatch,
        tmp_path,
        *("-f", str(spec), "--scrape-interval", "5s"),
        *("--target", "demo-db=http://127.0.0.1:8000/_exporters/postgres"),
        *("--target", "worker=http://127.0.0.1:8001/metrics"),
    )
    targets = [(t.job, t.url, dict(t.labels), t.health_path) for t in config.targets]
    assert targets == [
        # A stand-in for the exporter: the job's label, no readiness probe.
        ("demo-db", "http://127.0.0.1:8000/_exporters/postgres", {"dependency": "db"}, None),
        # Another --target is a service: probed for readiness like the spec's.
        ("worker", "http://127.0.0.1:8001/metrics", {}, "/ready"),
        ("demo", "http://127.0.0.1:8000/metrics", {}, "/ready"),
        ("demo-cache", "http://127.0.0.1:9121/metrics", {"dependency": "cache"}, None),
    ]
    assert [t.interval_s for t in config.targets] == [5.0, 5.0, 1.0, 1.0]
    assert spec_less_jobs(config) == ["worker"]


class _Exposition(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/metrics" else 404)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""


@contextlib.contextmanager
def _serve(body: bytes) -> Iterator[str]:
    handler = type("Handler", (_Exposition,), {"body": body})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def exporters() -> Iterator[tuple[str, str, str]]:
    """(app, postgres exporter, redis exporter) addresses: an app, and two exporters
    reporting their server down."""
    with contextlib.ExitStack() as stack:
        yield (
            stack.enter_context(_serve(b"# TYPE demo_hits counter\ndemo_hits_total 7\n")),
            stack.enter_context(_serve(b"# TYPE pg_up gauge\npg_up 0\n")),
            stack.enter_context(_serve(b"# TYPE redis_up gauge\nredis_up 0\n")),
        )


@pytest.mark.slow
def test_up_scrapes_the_exporters_and_database_and_redis_down_fire(
    tmp_path: Path, exporters: tuple[str, str, str]
) -> None:
    app, postgres, redis = exporters
    spec = tmp_path / "watchkeeper.yaml"
    spec.write_text(
        SPEC.format(app=app, postgres=postgres, redis=redis)
        + "alerts:\n  DatabaseDown: {for: 2s}\n  RedisDown: {for: 2s}\n",
        encoding="utf-8",
    )
    args = ("-f", str(spec), "--evaluation-interval", "1s")
    with watchkeeper_up(tmp_path / "data", *args) as (url, _):
        deadline = time.monotonic() + 60
        firing: dict[str, dict[str, str]] = {}
        while not {"DatabaseDown", "RedisDown"} <= firing.keys() and time.monotonic() < deadline:
            alerts = httpx.get(f"{url}/api/v1/alerts").json()["data"]["alerts"]
            firing = {
                a["labels"]["alertname"]: a["labels"]
                for a in alerts
                if a["state"] == "firing" and a["labels"]["alertname"].endswith("Down")
            }
            time.sleep(0.2)
        targets = httpx.get(f"{url}/api/v1/targets").json()["data"]["activeTargets"]
        down = httpx.get(
            f"{url}/api/v1/query", params={"query": "pg_up == 0 or redis_up == 0"}
        ).json()["data"]["result"]
    # ServiceDown stays quiet: the app is up.
    assert set(firing) == {"DatabaseDown", "RedisDown"}, "not both fired within 60 s"
    assert firing["DatabaseDown"]["job"] == "demo-db"
    assert firing["DatabaseDown"]["dependency"] == "db"
    assert firing["RedisDown"]["job"] == "demo-cache"
    assert firing["RedisDown"]["dependency"] == "cache"
    assert sorted((s["metric"]["job"], s["metric"]["instance"]) for s in down) == [
        ("demo-cache", redis),
        ("demo-db", postgres),
    ]
    pools = sorted({(t["scrapePool"], t["scrapeUrl"]) for t in targets})
    assert pools == sorted(
        [
            ("demo", f"http://{app}/metrics"),
            ("demo-cache", f"http://{redis}/metrics"),
            ("demo-db", f"http://{postgres}/metrics"),
            ("demo-health", f"http://{app}/ready"),  # the app's readiness; no exporter's
        ]
    )
