"""@traced and span(): custom spans, and cheap no-ops without tracing."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import watchkeeper
from watchkeeper.tracing import spans as spans_module


@watchkeeper.traced
def data_validation(rows: int) -> int:
    return signature_calculation(rows) + 1


@watchkeeper.traced("signature_calculation", algorithm="sha256")
def signature_calculation(rows: int) -> int:
    with watchkeeper.span("fatigue_detection", rows=rows, tags=["a", "b"]) as span:
        span.set_attribute("fatigue.level", 3)
        return rows * 2


@watchkeeper.traced
async def fetch(n: int) -> int:
    await asyncio.sleep(0)
    return n + 1


@watchkeeper.traced
def fails() -> None:
    raise KeyError("missing")


def test_traced_nests_and_names_by_qualname(spans: InMemorySpanExporter) -> None:
    assert data_validation(4) == 9
    by_name = {s.name: s for s in spans.get_finished_spans()}
    assert set(by_name) == {"data_validation", "signature_calculation", "fatigue_detection"}
    outer, middle, inner = (
        by_name["data_validation"],
        by_name["signature_calculation"],
        by_name["fatigue_detection"],
    )
    assert outer.parent is None
    assert middle.parent is not None
    assert outer.context is not None
    assert middle.parent.span_id == outer.context.span_id
    assert inner.parent is not None
    assert middle.context is not None
    assert inner.parent.span_id == middle.context.span_id
    assert dict(middle.attributes or {}) == {"algorithm": "sha256"}
    # a list is not an OpenTelemetry attribute value: it is kept as its text
    assert dict(inner.attributes or {}) == {"rows": 4, "tags": "['a', 'b']", "fatigue.level": 3}


def test_traced_coroutine(spans: InMemorySpanExporter) -> None:
    assert asyncio.run(fetch(1)) == 2
    (span,) = spans.get_finished_spans()
    assert span.name == "fetch"
    assert span.end_time is not None
    assert span.start_time is not None


def test_exception_recorded_and_propagated(spans: InMemorySpanExporter) -> None:
    with pytest.raises(KeyError, match="missing"):
        fails()
    (span,) = spans.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert [e.name for e in span.events] == ["exception"]


def test_without_tracing_spans_are_noops() -> None:
    # nothing configured and no SDK provider: no OpenTelemetry work, no error
    cm = watchkeeper.span("anything", x=1)
    assert cm is spans_module._NOOP
    with cm as span:
        span.set_attribute("k", "v")
        span.add_event("e")
        assert not span.is_recording()
    assert data_validation(1) == 3
    assert asyncio.run(fetch(2)) == 3
    with pytest.raises(KeyError):
        fails()


def test_a_fault_in_opentelemetry_never_reaches_the_app(
    spans: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("exporter bug")

    tracer = spans_module._tracer()
    assert tracer is not None
    monkeypatch.setattr(tracer, "start_as_current_span", broken)
    with watchkeeper.span("x") as span:
        assert not span.is_recording()
    assert data_validation(1) == 3
