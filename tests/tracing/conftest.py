"""Fixtures: watchkeeper tracing configured with an in-memory exporter, undone after.

OpenTelemetry lets a process set its global TracerProvider once; tests put the
globals back (what OpenTelemetry's own test utilities do) so each test starts
untraced and nothing leaks into other test packages.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from opentelemetry.util._once import Once

from watchkeeper.tracing import setup
from watchkeeper.tracing import spans as spans_module


def reset_tracing() -> None:
    current = setup.current()
    if current is not None:
        current.provider.shutdown()
    setup._state.setup = None
    setup._state.global_provider = None
    spans_module._found.tracer = None  # the SDK provider an app set, cached once found
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None


@pytest.fixture(autouse=True)
def _clean_tracing() -> Iterator[None]:
    reset_tracing()
    yield
    reset_tracing()


@pytest.fixture
def spans() -> InMemorySpanExporter:
    """Tracing configured at 100% with spans exported inline to memory."""
    exporter = InMemorySpanExporter()
    setup.configure(exporter, batch=False, sample_ratio=1.0, service="test")
    return exporter


def server_spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]


def hex_ids(span: ReadableSpan) -> tuple[str, str]:
    assert span.context is not None
    return f"{span.context.trace_id:032x}", f"{span.context.span_id:016x}"
