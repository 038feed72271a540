"""Exposition: valid for promtool and both parsers, same samples as prometheus_client."""

from __future__ import annotations

import gzip
import shutil
import subprocess

import prometheus_client
import pytest
from fastapi import FastAPI
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from starlette.testclient import TestClient

import watchkeeper
from tests.instrument.conftest import parse
from watchkeeper.instrument.exposition import (
    CONTENT_TYPE_OPENMETRICS,
    CONTENT_TYPE_TEXT,
    choose_format,
    encode_body,
    render,
)
from watchkeeper.instrument.registry import Registry


def _busy_registry() -> Registry:
    registry = Registry()
    app = FastAPI()

    @app.get("/items/{item_id}")
    def item(item_id: int) -> int:
        if item_id == 0:
            raise ValueError("zero")
        return item_id

    app = watchkeeper.instrument(app, service="shop", registry=registry, system_metrics=True)
    client = TestClient(app, raise_server_exceptions=False)
    for path in ["/items/1", "/items/0", "/nope", "/items/2"]:
        client.get(path)
    odd = registry.counter("orders", "Orders by tricky label values.", ["note"])
    odd.labels('quote " backslash \\ newline \n end').inc(2)
    registry.gauge("queue_depth", "Jobs waiting.", ["queue"]).labels("emails").set(float("nan"))
    registry.gauge("temperature_celsius", "Might be negative infinity.").set(float("-inf"))
    return registry


@pytest.mark.skipif(shutil.which("promtool") is None, reason="needs Debian's prometheus package")
def test_promtool_check_metrics_finds_nothing() -> None:
    text = render(_busy_registry())
    result = subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""
    assert result.stderr.strip() == ""


def test_openmetrics_output_parses_strictly() -> None:
    registry = _busy_registry()
    text = render(registry, openmetrics=True)
    assert text.endswith("# EOF\n")
    families = {f.name: f for f in parse_openmetrics(text)}  # type: ignore[no-untyped-call]
    assert families["http_server_request_duration_seconds"].type == "histogram"
    assert families["orders"].type == "counter"
    note = families["orders"].samples[0].labels["note"]
    assert note == 'quote " backslash \\ newline \n end'

    # the same samples in both formats (process and system values move between renders)
    def stable(name: str) -> bool:
        return not name.startswith(("process_", "python_", "system_", "asyncio_"))

    om = {
        (s.name, frozenset(s.labels.items()), s.value)
        for f in families.values()
        for s in f.samples
        if s.value == s.value and not s.name.endswith("_created") and stable(s.name)
    }
    text_samples = {
        (n, lab, v) for (n, lab), v in parse(render(registry)).items() if v == v and stable(n)
    }
    assert om == text_samples


def test_same_samples_as_prometheus_client_for_the_same_metrics() -> None:
    ours = Registry()
    theirs = prometheus_client.CollectorRegistry()
    buckets = (0.1, 0.5, 1.0, 5.0)
    c1 = ours.counter("jobs", "Jobs.", ["kind"])
    c2 = prometheus_client.Counter("jobs", "Jobs.", ["kind"], registry=theirs)
    h1 = ours.histogram("latency_seconds", "Latency.", ["route"], buckets=buckets)
    h2 = prometheus_client.Histogram(
        "latency_seconds", "Latency.", ["route"], buckets=buckets, registry=theirs
    )
    for i, v in enumerate([0.05, 0.1, 0.3, 0.7, 2.0, 9.0, 1.0]):
        route = f"/r{i % 3}"
        c1.labels(route).inc(i)
        c2.labels(route).inc(i)
        h1.labels(route).observe(v)
        h2.labels(route).observe(v)
    ours_samples = {
        k: v for k, v in parse(render(ours)).items() if not k[0].startswith("watchkeeper_")
    }
    theirs_samples = {
        k: v
        for k, v in parse(prometheus_client.generate_latest(theirs).decode()).items()
        if not k[0].endswith("_created")
    }
    assert ours_samples == theirs_samples


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("", CONTENT_TYPE_TEXT),
        ("text/plain;version=0.0.4", CONTENT_TYPE_TEXT),
        (
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
            CONTENT_TYPE_OPENMETRICS,
        ),
        ("application/openmetrics-text; q=0, text/plain", CONTENT_TYPE_TEXT),
        ("application/openmetrics-text; q=0.2", CONTENT_TYPE_OPENMETRICS),
    ],
)
def test_content_negotiation(accept: str, expected: str) -> None:
    assert choose_format(accept)[0] == expected


def test_gzip_only_when_accepted_and_worth_it() -> None:
    big = "x" * 5000
    body, encoding = encode_body(big, "gzip, deflate")
    assert encoding == "gzip"
    assert gzip.decompress(body).decode() == big
    assert encode_body(big, "identity") == (big.encode(), None)
    assert encode_body("tiny", "gzip") == (b"tiny", None)
