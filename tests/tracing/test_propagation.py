"""Trace context out: inject(), httpx hooks, and two real uvicorn services.

Service A calls service B over 127.0.0.1; both export over OTLP/HTTP to a tiny
receiver in the test. B's server span must be a child of A's server span (same
trace id, parent = A's span), continuing the trace the test's own traceparent
started; the log lines of both services carry the ids of the exported spans.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import watchkeeper
from tests.instrument.servers import free_port, serve
from tests.tracing.conftest import hex_ids
from tests.tracing.otlp_receiver import SERVER_KIND, ReceivedSpan, otlp_receiver
from watchkeeper import tracing

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
CALLER_SPAN = "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE_ID}-{CALLER_SPAN}-01"
APP = "tests.tracing.servers.traced_app:app"


def _sampled_parent(traceparent: str) -> tuple[str, str]:
    """(trace id, parent id) of a version-00 traceparent whose sampled flag is set."""
    version, trace_id, span_id, flags = traceparent.split("-")
    assert version == "00", traceparent
    assert int(flags, 16) & 1, traceparent
    return trace_id, span_id


def test_inject_without_a_span_adds_nothing() -> None:
    assert tracing.inject() == {}
    headers = {"accept": "*/*"}
    assert tracing.inject(headers) is headers
    assert headers == {"accept": "*/*"}


def test_inject_inside_a_span(spans: InMemorySpanExporter) -> None:
    with watchkeeper.span("outgoing"):
        headers = tracing.inject()
    (span,) = spans.get_finished_spans()
    trace_id, span_id = hex_ids(span)
    assert _sampled_parent(headers["traceparent"]) == (trace_id, span_id)


def test_httpx_hooks_inject_and_respect_the_callers_header(spans: InMemorySpanExporter) -> None:
    seen: list[httpx.Headers] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers)
        return httpx.Response(200)

    with (
        httpx.Client(
            transport=httpx.MockTransport(handler), event_hooks=tracing.httpx_hooks()
        ) as c,
        watchkeeper.span("outgoing"),
    ):
        c.get("http://127.0.0.1/x")
        c.get("http://127.0.0.1/x", headers={"traceparent": TRACEPARENT})

    async def run_async() -> None:
        transport = httpx.MockTransport(handler)
        async with httpx.AsyncClient(
            transport=transport, event_hooks=tracing.async_httpx_hooks()
        ) as c:
            with watchkeeper.span("outgoing-async"):
                await c.get("http://127.0.0.1/y")

    asyncio.run(run_async())
    first, second, third = seen
    by_name = {s.name: hex_ids(s) for s in spans.get_finished_spans()}
    assert _sampled_parent(first["traceparent"]) == by_name["outgoing"]
    assert second["traceparent"] == TRACEPARENT
    assert _sampled_parent(third["traceparent"]) == by_name["outgoing-async"]


def _log_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.slow
def test_trace_continues_across_two_uvicorn_services(tmp_path: Path) -> None:
    with otlp_receiver() as receiver:
        port_a, port_b = free_port(), free_port()
        common = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            "OTEL_TRACES_SAMPLER": "parentbased_always_on",
        }
        env_b = {**common, "OTEL_SERVICE_NAME": "svc-b", "LOG_FILE": str(tmp_path / "b.log")}
        env_a = {
            **common,
            "OTEL_SERVICE_NAME": "svc-a",
            "LOG_FILE": str(tmp_path / "a.log"),
            "DOWNSTREAM_URL": f"http://127.0.0.1:{port_b}/hello",
        }

        def argv(port: int) -> list[str]:
            return ["uvicorn", APP, "--host", "127.0.0.1", "--port", str(port),
                    "--log-level", "warning"]  # fmt: skip

        with serve(argv(port_b), port_b, env_b), serve(argv(port_a), port_a, env_a):
            response = httpx.get(
                f"http://127.0.0.1:{port_a}/call", headers={"traceparent": TRACEPARENT}, timeout=20
            )
            assert response.json() == {"downstream": {"service": "svc-b"}}

            def complete(spans: list[ReceivedSpan]) -> bool:
                services = {s.service for s in spans if s.kind == SERVER_KIND and s.name != "GET"}
                return {"svc-a", "svc-b"} <= services and any(
                    s.name == "data_validation" for s in spans
                )

            spans = receiver.wait_for(complete)
            a_log = _log_lines(tmp_path / "a.log")
            b_log = _log_lines(tmp_path / "b.log")

    (a,) = [s for s in spans if s.service == "svc-a" and s.kind == SERVER_KIND]
    (b,) = [s for s in spans if s.service == "svc-b" and s.kind == SERVER_KIND]
    (validation,) = [s for s in spans if s.name == "data_validation"]
    assert a.name == "GET /call"
    assert b.name == "GET /hello"
    # A continued the caller's trace; B's server span is a child of A's
    assert a.trace_id == b.trace_id == validation.trace_id == TRACE_ID
    assert a.parent_span_id == CALLER_SPAN
    assert b.parent_span_id == a.span_id
    assert validation.parent_span_id == b.span_id
    assert a.attributes["http.route"] == "/call"
    assert b.attributes["http.response.status_code"] == 200
    # the log lines of each service name the exported spans they ran in
    (calling,) = [line for line in a_log if line.get("message") == "calling downstream"]
    assert (calling["trace_id"], calling["span_id"]) == (TRACE_ID, a.span_id)
    (hello,) = [line for line in b_log if line.get("message") == "hello handled"]
    assert (hello["trace_id"], hello["span_id"]) == (TRACE_ID, validation.span_id)
