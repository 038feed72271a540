"""Exemplars: the duration bucket carries the sampled span's ids, in OpenMetrics only."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_text

import watchkeeper
from tests.tracing.apps import Client, fastapi_app, flask_app
from tests.tracing.conftest import hex_ids, server_spans
from watchkeeper.instrument.exposition import render
from watchkeeper.instrument.metrics import Histogram
from watchkeeper.instrument.registry import Registry
from watchkeeper.tracing import setup

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
DURATION = "http_server_request_duration_seconds"


def exemplars(registry: Registry, route: str) -> list[tuple[dict[str, str], Any]]:
    """(bucket labels, exemplar) of every duration bucket of ``route`` with one."""
    out = []
    for family in parse_openmetrics(render(registry, openmetrics=True)):  # type: ignore[no-untyped-call]
        for s in family.samples:
            if (
                s.name == f"{DURATION}_bucket"
                and s.labels.get("http_route") == route
                and s.exemplar is not None
            ):
                out.append((s.labels, s.exemplar))
    return out


def test_request_in_a_sampled_span_leaves_an_exemplar(spans: InMemorySpanExporter) -> None:
    registry = Registry()
    app = watchkeeper.instrument(fastapi_app(), registry=registry)
    assert Client(app).get("/items/1", headers={"traceparent": TRACEPARENT}).status_code == 200
    (server,) = server_spans(spans)
    trace_id, span_id = hex_ids(server)
    ((labels, exemplar),) = exemplars(registry, "/items/{item_id}")
    assert exemplar.labels == {"trace_id": TRACE_ID, "span_id": span_id}
    assert trace_id == TRACE_ID
    # the exemplar sits in the bucket its value falls in (the first bound >= value)
    assert float(labels["le"]) >= exemplar.value
    assert exemplar.timestamp is not None


def test_latest_exemplar_per_bucket(spans: InMemorySpanExporter) -> None:
    registry = Registry()
    client = Client(watchkeeper.instrument(fastapi_app(), registry=registry))
    client.get("/items/1")
    client.get("/items/1")
    got = exemplars(registry, "/items/{item_id}")
    ids = {hex_ids(s)[0] for s in server_spans(spans)}
    assert len(ids) == 2
    assert 1 <= len(got) <= 2
    assert {e.labels["trace_id"] for _, e in got} <= ids
    if len(got) == 1:  # both in one bucket: the second request's span is kept
        second = server_spans(spans)[1]
        assert got[0][1].labels["trace_id"] == hex_ids(second)[0]


def test_error_requests_carry_exemplars_too(spans: InMemorySpanExporter) -> None:
    registry = Registry()
    Client(watchkeeper.instrument(fastapi_app(), registry=registry)).get("/boom")
    ((_, exemplar),) = exemplars(registry, "/boom")
    (server,) = server_spans(spans)
    assert exemplar.labels["trace_id"] == hex_ids(server)[0]


def test_text_format_has_no_exemplars(spans: InMemorySpanExporter) -> None:
    registry = Registry()
    Client(watchkeeper.instrument(fastapi_app(), registry=registry)).get("/items/1")
    text = render(registry)
    assert "trace_id" not in text
    counts = [
        s.value
        for f in parse_text(text)
        for s in f.samples
        if s.name == f"{DURATION}_count" and s.labels.get("http_route") == "/items/{item_id}"
    ]
    assert counts == [1]


def test_unsampled_requests_leave_no_exemplar() -> None:
    setup.configure(InMemorySpanExporter(), batch=False, sample_ratio=0.0)
    registry = Registry()
    client = Client(watchkeeper.instrument(fastapi_app(), registry=registry))
    client.get("/items/1")
    client.get("/items/1", headers={"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-00"})
    assert exemplars(registry, "/items/{item_id}") == []


def test_no_tracing_no_exemplar_source() -> None:
    app = watchkeeper.instrument(fastapi_app(), registry=Registry())
    assert app.__watchkeeper__.exemplar_of is None  # type: ignore[attr-defined]


def test_wsgi_exemplar(spans: InMemorySpanExporter) -> None:
    registry = Registry()
    app = watchkeeper.instrument(flask_app(), registry=registry)
    response = app.test_client().get("/things/2", headers={"traceparent": TRACEPARENT})
    assert response.get_json() == {"thing_id": 2}
    response.close()
    ((_, exemplar),) = exemplars(registry, "/things/<int:thing_id>")
    (server,) = server_spans(spans)
    assert exemplar.labels == {"trace_id": TRACE_ID, "span_id": hex_ids(server)[1]}


def test_histogram_observe_with_exemplar() -> None:
    registry = Registry()
    h = registry.histogram("job_seconds", "Job durations.", ["queue"], buckets=[0.1, 1.0])
    assert isinstance(h, Histogram)
    h.labels("a").observe(0.5, {"trace_id": "abc"})
    h.labels("a").observe(0.7, {"trace_id": "def"})
    h.labels("a").observe(5.0)
    samples = {
        s.labels["le"]: s
        for f in parse_openmetrics(render(registry, openmetrics=True))  # type: ignore[no-untyped-call]
        for s in f.samples
        if s.name == "job_seconds_bucket"
    }
    assert samples["0.1"].exemplar is None
    assert samples["1.0"].exemplar.labels == {"trace_id": "def"}
    assert samples["1.0"].exemplar.value == 0.7
    assert samples["+Inf"].exemplar is None
    assert samples["+Inf"].value == 3


def test_exemplar_labels_are_bounded() -> None:
    registry = Registry()
    h = registry.histogram("x_seconds", "X.", buckets=[1.0])
    with pytest.raises(ValueError, match="longer than 128"):
        h.observe(0.5, {"trace_id": "a" * 130})
    with pytest.raises(ValueError, match="invalid exemplar label name"):
        h.observe(0.5, {"trace-id": "a"})
