"""The access line: one per request, with the request's context and the trace ids."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from flask import Flask, request
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import watchkeeper
import watchkeeper.logs as wlogs
from tests.tracing.conftest import hex_ids, reset_tracing, server_spans
from watchkeeper.instrument.registry import Registry
from watchkeeper.testing import capture_logs
from watchkeeper.tracing import setup as tracing_setup


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    reset_tracing()
    spans = InMemorySpanExporter()
    tracing_setup.configure(spans, batch=False, sample_ratio=1.0, service="test")
    yield spans
    reset_tracing()


def test_access_and_app_lines_carry_the_exported_server_spans_ids(
    exporter: InMemorySpanExporter,
) -> None:
    app = Flask("traced")

    @app.post("/items/<int:item_id>")
    def item(item_id: int) -> tuple[str, int]:
        wlogs.bind(user_id=3)
        logging.getLogger("traced.views").info("handling", extra={"size": len(request.data)})
        return "created", 201

    app = watchkeeper.instrument(app, registry=Registry(), tracing=True, access_log=True)
    with capture_logs() as lines:
        response = app.test_client().post("/items/5", data=b"x" * 10)
        response.get_data()
        response.close()
    (span,) = server_spans(exporter)
    trace_id, span_id = hex_ids(span)
    handling = next(line for line in lines if line["message"] == "handling")
    (access,) = [line for line in lines if line["logger"] == "watchkeeper.access"]
    assert handling["trace_id"] == access["trace_id"] == trace_id
    assert access["span_id"] == span_id
    assert handling["request_id"] == access["request_id"] == response.headers["x-request-id"]
    assert access["user_id"] == 3
    assert access["http_response_status_code"] == 201
    assert access["message"] == f"POST /items/<int:item_id> 201 {access['duration_ms']:.1f}ms"
    assert access["http_request_body_size"] == handling["size"] == 10  # bytes the app read
    assert access["http_response_body_size"] == len(b"created")


def test_no_access_line_unless_asked() -> None:
    app = Flask("quiet")
    app.add_url_rule("/", "root", lambda: "ok")
    app = watchkeeper.instrument(app, registry=Registry())
    with capture_logs() as lines:
        app.test_client().get("/").close()
    assert not [line for line in lines if line["logger"] == "watchkeeper.access"]
