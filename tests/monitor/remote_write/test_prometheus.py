"""Remote write into the real Prometheus 2.42 (``--web.enable-remote-write-receiver``).

``watchkeeper up`` scrapes a local target every second, evaluates a recording rule,
and remote-writes to Prometheus; Prometheus' own API must then answer the same series
with the same sample values and timestamps as the monitor's API: labels with quotes,
backslashes, newlines, non-ASCII and 300-character values, NaN, ±Inf, the smallest
subnormal and the largest double. A series that disappears from the target must
disappear from Prometheus at once too, which only the stale marker (a NaN with a
special bit pattern) can make happen within the 5 m lookback.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.monitor.notify.sink import wait_for
from tests.support.prometheus import running_prometheus
from tests.support.watchkeeper import watchkeeper_up
from watchkeeper.monitor.model import Matcher, is_stale_nan
from watchkeeper.monitor.storage import open_storage

pytestmark = pytest.mark.slow

LONG = "x" * 300
STATIC = f"""\
rw_gauge{{kind="plain"}} 1.5
rw_gauge{{kind="nan"}} NaN
rw_gauge{{kind="inf"}} +Inf
rw_gauge{{kind="neginf"}} -Inf
rw_gauge{{kind="tiny"}} 5e-324
rw_gauge{{kind="huge"}} 1.7976931348623157e+308
rw_gauge{{kind="negative"}} -0.000123
rw_labels{{quote="a\\"b",backslash="c\\\\d",newline="e\\nf",unicode="ünï 😀",long="{LONG}"}} 2
"""


class Target:
    """A /metrics endpoint on 127.0.0.1 whose body the test changes."""

    def __init__(self) -> None:
        self.vanishing = True
        self.scrapes = 0
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                target.scrapes += 1
                body = STATIC + f"rw_counter_total {target.scrapes}\n"
                if target.vanishing:
                    body += "rw_vanishing 1\n"
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/metrics"

    def __enter__(self) -> Target:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def target() -> Iterator[Target]:
    with Target() as t:
        yield t


def _query(url: str, query: str, at: float) -> list[dict[str, Any]]:
    body = httpx.get(f"{url}/api/v1/query", params={"query": query, "time": f"{at:.3f}"}).json()
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def _samples(url: str, at: float) -> dict[tuple[tuple[str, str], ...], list[tuple[int, str]]]:
    """Every raw sample of job rwtest in the 10 minutes before ``at``, by label set."""
    out = {}
    for series in _query(url, '{job="rwtest"}[10m]', at):
        labels = tuple(sorted(series["metric"].items()))
        # Values as Python floats (NaN compared by its text): exact, whatever the formatting.
        out[labels] = [(round(float(t) * 1000), _norm(v)) for t, v in series["values"]]
    return out


def _norm(value: str) -> str:
    f = float(value)
    return "NaN" if math.isnan(f) else repr(f)


def test_samples_arrive_intact_in_prometheus(tmp_path: Path, target: Target) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(
        "groups:\n- name: rw\n  rules:\n  - record: rw:gauge:doubled\n    expr: rw_gauge * 2\n",
        encoding="utf-8",
    )
    extra = ["--web.enable-remote-write-receiver"]
    with running_prometheus(tmp_path / "prom-data", tmp_path / "prom", extra_args=extra) as prom:
        args = [
            *("--target", f"rwtest={target.url}", "--scrape-interval", "1s"),
            *("--no-health-probes", "--rules", str(rules), "--evaluation-interval", "1s"),
            *("--remote-write", f"{prom}/api/v1/write"),
        ]
        log = tmp_path / "up.log"
        try:
            with watchkeeper_up(tmp_path / "data", *args, log_path=log) as (monitor, process):
                _check(monitor, prom, target)
                # A clean stop flushes the queue: then Prometheus holds every sample stored.
                process.terminate()
                assert process.wait(60) == 0
            _check_flushed(tmp_path / "data", prom)
        except BaseException:
            print(log.read_text(errors="replace")[-4000:])
            print((tmp_path / "prom" / "prometheus.log").read_text(errors="replace")[-4000:])
            raise


def _check(monitor: str, prom: str, target: Target) -> None:
    # Scraped and recorded series reach Prometheus, labels intact.
    wait_for(lambda: _query(prom, "rw_vanishing", time.time()), 60, "rw_vanishing in Prometheus")
    wait_for(lambda: _query(prom, "rw:gauge:doubled", time.time()), 60, "recorded series")
    odd = _query(prom, "rw_labels", time.time())[0]["metric"]
    wanted = {"quote": 'a"b', "backslash": "c\\d", "newline": "e\nf", "unicode": "ünï 😀"}
    assert odd == {"__name__": "rw_labels", "job": "rwtest", **wanted, "long": LONG} | {
        "instance": odd["instance"]
    }

    # A series gone from the target is gone from Prometheus at once: the stale marker
    # arrived (without it Prometheus would answer its last value for 5 minutes).
    target.vanishing = False
    wait_for(lambda: not _query(monitor, "rw_vanishing", time.time()), 60, "stale on monitor")
    wait_for(lambda: not _query(prom, "rw_vanishing", time.time()), 60, "stale in Prometheus")

    # Every raw sample the monitor holds up to a moment (3 s ago, so no commit of a
    # scrape started before it is still in flight) arrives, same timestamp, same value.
    # Both are read again on each try: on a loaded machine a commit may lag even so.
    at = time.time() - 3
    wait_for(
        lambda: _samples(prom, at) == _samples(monitor, at), 60, "the same samples in Prometheus"
    )
    expected = _samples(monitor, at)
    assert len(expected) >= 12  # 7 gauges, labels, counter, vanishing, up, scrape_*...
    assert any(name == ("__name__", "rw:gauge:doubled") for key in expected for name in key)
    assert sum(len(v) for v in expected.values()) > 100
    gauges = [(dict(k), v) for k, v in expected.items() if dict(k)["__name__"] == "rw_gauge"]
    values = {labels["kind"]: samples[-1][1] for labels, samples in gauges}
    assert values == {
        "plain": "1.5",
        "nan": "NaN",
        "inf": "inf",
        "neginf": "-inf",
        "tiny": "5e-324",
        "huge": "1.7976931348623157e+308",
        "negative": "-0.000123",
    }

    counts = {}
    for family in text_string_to_metric_families(httpx.get(f"{monitor}/metrics").text):
        for sample in family.samples:
            if sample.name == "watchkeeper_remote_write_samples_total":
                assert sample.labels["url"] == f"{prom}/api/v1/write"
                counts[sample.labels["outcome"]] = sample.value
    assert counts["sent"] > 100
    assert counts["rejected"] == counts["dropped"] == counts["failed"] == 0


def _check_flushed(data_dir: Path, prom: str) -> None:
    """Every sample in the stopped monitor's store (but stale markers, which no query
    answers) is in Prometheus already: no waiting, nothing lost at shutdown."""
    store = open_storage(data_dir)
    try:
        stored = {
            tuple(sorted(series.labels)): [
                (int(t), _norm(str(v)))
                for t, v in zip(series.timestamps, series.values, strict=True)
                if not is_stale_nan(float(v))
            ]
            for series in store.select([Matcher.of("job", "=", "rwtest")], 0, 2**62)
        }
    finally:
        store.close()
    stored = {labels: samples for labels, samples in stored.items() if samples}
    assert _samples(prom, time.time()) == stored
