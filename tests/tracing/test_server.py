"""The server-span hook: one SERVER span per request, trace context continued."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import watchkeeper
from tests.instrument.conftest import value
from tests.tracing.apps import Client, fastapi_app, flask_app
from tests.tracing.conftest import hex_ids, server_spans
from watchkeeper.instrument.registry import Registry
from watchkeeper.tracing import setup
from watchkeeper.tracing.server import ServerSpanHook, _split_host

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"


def client(**options: object) -> Client:
    app = watchkeeper.instrument(fastapi_app(), registry=Registry(), **options)  # type: ignore[arg-type]
    return Client(app, base_url="http://shop.local:8080")


def test_incoming_traceparent_is_continued(spans: InMemorySpanExporter) -> None:
    response = client().get(
        "/items/7", headers={"traceparent": TRACEPARENT, "tracestate": "vendor=x"}
    )
    assert response.status_code == 200
    (server,) = server_spans(spans)
    trace_id, _ = hex_ids(server)
    assert trace_id == TRACE_ID
    assert server.parent is not None
    assert f"{server.parent.span_id:016x}" == PARENT_ID
    assert server.parent.is_remote
    assert server.context is not None
    assert server.context.trace_state.get("vendor") == "x"
    assert server.name == "GET /items/{item_id}"
    assert server.kind is SpanKind.SERVER
    assert dict(server.attributes or {}) == {
        "http.request.method": "GET",
        "url.path": "/items/7",
        "url.scheme": "http",
        "network.protocol.version": "1.1",
        "server.address": "shop.local",
        "server.port": 8080,
        "client.address": "127.0.0.1",
        "user_agent.original": f"python-httpx/{httpx.__version__}",
        "http.route": "/items/{item_id}",
        "http.response.status_code": 200,
    }
    assert server.status.status_code is StatusCode.UNSET


def test_custom_spans_nest_under_the_server_span(spans: InMemorySpanExporter) -> None:
    client().get("/items/7", headers={"traceparent": TRACEPARENT})
    by_name = {s.name: s for s in spans.get_finished_spans()}
    chain = ["GET /items/{item_id}", "data_validation", "signature_calculation.<locals>."]
    server = by_name[chain[0]]
    validation = by_name["data_validation"]
    (signature,) = [s for s in by_name.values() if s.name.endswith("signature_calculation")]
    fatigue = by_name["fatigue_detection"]
    assert validation.parent is not None
    assert server.context is not None
    assert validation.parent.span_id == server.context.span_id
    assert signature.parent is not None
    assert validation.context is not None
    assert signature.parent.span_id == validation.context.span_id
    assert fatigue.parent is not None
    assert signature.context is not None
    assert fatigue.parent.span_id == signature.context.span_id
    assert dict(validation.attributes or {}) == {"item_id": 7}
    assert {hex_ids(s)[0] for s in spans.get_finished_spans()} == {TRACE_ID}
    assert chain  # the names above are the guides' pipeline


def test_a_new_trace_starts_without_traceparent(spans: InMemorySpanExporter) -> None:
    client().get("/items/1")
    (server,) = server_spans(spans)
    assert server.parent is None
    assert hex_ids(server)[0] != TRACE_ID


def test_exception_is_recorded_and_the_span_is_an_error(spans: InMemorySpanExporter) -> None:
    assert client().get("/boom").status_code == 500
    (server,) = server_spans(spans)
    assert server.status.status_code is StatusCode.ERROR
    attrs = dict(server.attributes or {})
    assert attrs["error.type"] == "ValueError"
    assert attrs["http.response.status_code"] == 500
    (event,) = [e for e in server.events if e.name == "exception"]
    assert dict(event.attributes or {})["exception.type"] == "ValueError"
    assert dict(event.attributes or {})["exception.message"] == "the app failed"


def test_5xx_without_exception_is_an_error_4xx_is_not(spans: InMemorySpanExporter) -> None:
    c = client()
    assert c.get("/unavailable").status_code == 503
    assert c.get("/gone").status_code == 404
    unavailable, gone = server_spans(spans)
    assert unavailable.status.status_code is StatusCode.ERROR
    assert dict(unavailable.attributes or {})["error.type"] == "503"
    assert gone.status.status_code is StatusCode.UNSET
    assert "error.type" not in dict(gone.attributes or {})


def test_unmatched_route_keeps_the_method_as_name(spans: InMemorySpanExporter) -> None:
    assert client().get("/nope").status_code == 404
    (server,) = server_spans(spans)
    assert server.name == "GET"
    assert "http.route" not in dict(server.attributes or {})


def test_unsampled_parent_is_followed(spans: InMemorySpanExporter) -> None:
    client().get("/items/7", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-00"})
    assert spans.get_finished_spans() == ()


def test_ratio_zero_drops_before_opentelemetry_and_children_too() -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    setup.configure(exporter, batch=False, sample_ratio=0.0)
    c = client()
    for _ in range(5):
        assert c.get("/items/7").status_code == 200
    # no server span and no orphan root spans from the custom spans inside
    assert exporter.get_finished_spans() == ()
    # a sampled parent is still followed at ratio 0 (parent-based)
    c.get("/items/7", headers={"traceparent": TRACEPARENT})
    assert {hex_ids(s)[0] for s in exporter.get_finished_spans()} == {TRACE_ID}


def test_ratio_sampling_follows_the_ratio(monkeypatch: pytest.MonkeyPatch) -> None:
    exporter = InMemorySpanExporter()
    setup.configure(exporter, batch=False, sample_ratio=0.25)
    draws = random.Random(7)
    monkeypatch.setattr("watchkeeper.tracing.setup.random.random", draws.random)
    c = client()
    for _ in range(40):
        c.get("/items/1")
    replay = random.Random(7)
    expected = sum(1 for _ in range(40) if replay.random() < 0.25)
    assert len(server_spans(exporter)) == expected
    assert 0 < expected < 40


def test_tracing_false_makes_no_spans(spans: InMemorySpanExporter) -> None:
    client(tracing=False).get("/items/7", headers={"traceparent": TRACEPARENT})
    # (FastAPI's own telemetry may still trace it: that is the app's setting, not ours)
    ours = [
        s
        for s in server_spans(spans)
        if s.instrumentation_scope is not None and s.instrumentation_scope.name == "watchkeeper"
    ]
    assert ours == []


def test_tracing_is_off_by_default_without_a_provider() -> None:
    app = watchkeeper.instrument(fastapi_app(), registry=Registry())
    hooks = app.__watchkeeper__.hooks  # type: ignore[attr-defined]
    assert not any(isinstance(h, ServerSpanHook) for h in hooks)


def test_tracing_is_on_for_an_sdk_provider_the_app_set() -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    client().get("/items/7", headers={"traceparent": TRACEPARENT})
    (server,) = server_spans(exporter)
    assert hex_ids(server)[0] == TRACE_ID
    provider.shutdown()


def test_flask_server_span(spans: InMemorySpanExporter) -> None:
    app = watchkeeper.instrument(flask_app(), registry=Registry())
    response = app.test_client().get(
        "/things/3", headers={"traceparent": TRACEPARENT, "Host": "[::1]:5000"}
    )
    assert response.get_json() == {"thing_id": 3}  # consumes the body: the request ends
    response.close()
    (server,) = server_spans(spans)
    (lookup,) = [s for s in spans.get_finished_spans() if s.name == "lookup"]
    assert server.name == "GET /things/<int:thing_id>"
    assert hex_ids(server)[0] == TRACE_ID
    assert lookup.parent is not None
    assert server.context is not None
    assert lookup.parent.span_id == server.context.span_id
    attrs = dict(server.attributes or {})
    assert attrs["server.address"] == "::1"
    assert attrs["server.port"] == 5000
    assert attrs["http.response.status_code"] == 200


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("example.com", ("example.com", None)),
        ("example.com:8080", ("example.com", 8080)),
        ("[::1]:80", ("::1", 80)),
        ("[::1]", ("::1", None)),
        ("example.com:http", ("example.com", None)),
    ],
)
def test_split_host(host: str, expected: tuple[str, int | None]) -> None:
    assert _split_host(host) == expected


def test_log_lines_carry_the_ids_of_the_exported_spans(spans: InMemorySpanExporter) -> None:
    from watchkeeper.testing import capture_logs

    with capture_logs() as lines:
        client().get("/items/7", headers={"traceparent": TRACEPARENT})
        client().get("/boom", headers={"traceparent": TRACEPARENT})
    item, boom = server_spans(spans)
    (lookup,) = [line for line in lines if line["message"] == "looking up item 7"]
    assert (lookup["trace_id"], lookup["span_id"]) == hex_ids(item)
    # the unhandled-exception line is logged while the request's span is current
    (error,) = [line for line in lines if line["message"].startswith("unhandled ValueError")]
    assert (error["trace_id"], error["span_id"]) == hex_ids(boom)


def test_one_span_per_request_not_per_chunk(spans: InMemorySpanExporter) -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import StreamingResponse
    from starlette.routing import Route

    async def chunks(request: Request) -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            for i in range(5):
                yield f"chunk {i}\n".encode()

        return StreamingResponse(body(), media_type="text/plain")

    app = watchkeeper.instrument(Starlette(routes=[Route("/chunks", chunks)]), registry=Registry())
    response = Client(app).get("/chunks", headers={"traceparent": TRACEPARENT})
    assert response.text.count("chunk") == 5
    (server,) = spans.get_finished_spans()  # no http send / receive spans
    assert server.kind is SpanKind.SERVER
    assert server.name == "GET /chunks"


def test_attribute_values_from_the_request_are_bounded(spans: InMemorySpanExporter) -> None:
    client().get("/" + "a" * 5000, headers={"user-agent": "u" * 2000})
    (server,) = server_spans(spans)
    attrs = dict(server.attributes or {})
    assert attrs["url.path"] == "/" + "a" * 2047
    assert attrs["user_agent.original"] == "u" * 512


def _decisions_after_requests(n: int) -> list[object]:
    """Call an instrumented raw ASGI app ``n`` times in this one context; return the
    request decision the context holds after each request."""
    import asyncio

    from watchkeeper.tracing.setup import REQUEST_DECISION

    async def inner(scope: object, receive: object, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b""}

    async def send(message: object) -> None:
        pass

    app = watchkeeper.instrument(inner, registry=Registry())

    async def run() -> list[object]:
        seen: list[object] = []
        for _ in range(n):
            await app({"type": "http", "method": "GET", "path": "/x", "headers": []}, receive, send)
            seen.append(REQUEST_DECISION.get())
        return seen

    return asyncio.run(run())


def test_dropped_requests_leave_no_decision_behind() -> None:
    # The ASGI fast path for a request the draw drops sets the decision for the
    # request and resets it at its end: code after the request samples normally.
    exporter = InMemorySpanExporter()
    setup.configure(exporter, batch=False, sample_ratio=0.0)
    assert _decisions_after_requests(3) == [None, None, None]
    assert exporter.get_finished_spans() == ()


def test_a_failing_fast_path_falls_back_to_the_full_path(monkeypatch: pytest.MonkeyPatch) -> None:
    exporter = InMemorySpanExporter()
    setup.configure(exporter, batch=False, sample_ratio=1.0)

    def broken(self: ServerSpanHook, scope: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(ServerSpanHook, "skip_asgi", broken)
    registry = Registry()
    c = Client(watchkeeper.instrument(fastapi_app(), registry=registry), base_url="http://x")
    assert c.get("/items/7").status_code == 200
    assert len(server_spans(exporter)) == 1  # the span was still made, by begin()
    faults = value(registry, "watchkeeper_internal_errors_total", component="hooks.begin")
    assert faults == 1
