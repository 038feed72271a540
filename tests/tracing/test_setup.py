"""configure(): the SDK wired the way the arguments and OTEL_* variables say."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import watchkeeper
from watchkeeper.errors import ConfigurationError
from watchkeeper.tracing import setup


def _service_of(provider: TracerProvider | None) -> object:
    assert provider is not None
    return provider.resource.attributes.get("service.name")


def test_configure_sets_the_global_provider_and_service() -> None:
    provider = setup.configure("none", service="shop")
    assert provider is not None
    assert trace.get_tracer_provider() is provider
    assert _service_of(provider) == "shop"
    assert setup.is_configured()


def test_otel_service_name_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")
    assert _service_of(setup.configure("none", service="shop")) == "from-env"


def test_otel_sdk_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert setup.configure("console") is None
    assert not setup.is_configured()
    with watchkeeper.span("x") as span:  # still a harmless no-op
        assert not span.is_recording()


def test_sampler_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.0")
    setup.configure(InMemorySpanExporter())
    current = setup.current()
    assert current is not None
    assert current.ratio == 0.0


def test_sampler_the_sdk_owns(monkeypatch: pytest.MonkeyPatch) -> None:
    # a sampler we do not model stays the SDK's own (no pre-draw in the hook)
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_off")
    setup.configure(InMemorySpanExporter())
    current = setup.current()
    assert current is not None
    assert current.ratio is None
    assert "AlwaysOff" in current.provider.sampler.get_description() or (
        "DROP" in current.provider.sampler.get_description().upper()
    )


def test_exporter_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter

    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    provider = setup.configure(batch=False)
    assert provider is not None
    (processor,) = provider._active_span_processor._span_processors
    assert isinstance(processor.span_exporter, ConsoleSpanExporter)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"exporter": "jaeger"},
            "tracing exporter must be 'otlp', 'console' or 'none', got 'jaeger'",
        ),
        ({"sample_ratio": 1.5}, "sample_ratio must be between 0 and 1, got 1.5"),
    ],
)
def test_bad_settings_say_what_and_how(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(")):
        setup.configure(**kwargs)  # type: ignore[arg-type]


def test_bad_sampler_arg(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "half")
    with pytest.raises(ConfigurationError, match="OTEL_TRACES_SAMPLER_ARG must be a number"):
        setup.configure("none")


def test_otlp_endpoint_gets_the_traces_path() -> None:
    provider, _ = setup.build_provider(exporter="otlp", endpoint="http://127.0.0.1:4318")
    processor = provider._active_span_processor._span_processors[0]
    exporter = processor._batch_processor._exporter  # type: ignore[attr-defined]
    assert exporter._endpoint == "http://127.0.0.1:4318/v1/traces"
    provider.shutdown()


def test_reconfigure_replaces_what_watchkeeper_uses() -> None:
    first = InMemorySpanExporter()
    second = InMemorySpanExporter()
    setup.configure(first, batch=False)
    setup.configure(second, batch=False)
    with watchkeeper.span("x"):
        pass
    assert [s.name for s in second.get_finished_spans()] == ["x"]
    assert first.get_finished_spans() == ()
