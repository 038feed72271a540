"""Per-request cost of tracing: watchkeeper's server spans vs OpenTelemetry's FastAPI
instrumentation, side by side in one run.

The driver is bench_http's (the app called in-process on one event loop, thread CPU
time, interleaved rounds, overheads as the median of paired per-round differences
against the bare app). Every traced variant exports through the same span pipeline:
a ``BatchSpanProcessor`` (what production uses: the request pays the queue append,
a background thread exports) in front of an exporter that counts server spans and
drops them, each variant with its own TracerProvider so no global is set (a global
provider would switch on FastAPI's own telemetry in every other variant).

Variants (FastAPI, GET /items/42):
- bare; watchkeeper metrics only (tracing=False);
- watchkeeper with tracing at 100% and at 1% sampling (metrics + server span +
  exemplars); requests carry no traceparent, like the edge of a system;
- OpenTelemetry FastAPIInstrumentor at 100% (its spans + its metrics), the peer.

Targets (issue #3): watchkeeper at 100% costs <= 1/3 of the peer's overhead; at 1%
it is within 2 µs of metrics only.

Run: ``.venv/bin/python -m benchmarks.bench_tracing [--rounds 15] [--requests 1000]``
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import Any

from benchmarks._common import machine, revision, verdict
from benchmarks.bench_http import (
    ROUTE,
    Variant,
    _check_asgi,
    _CountingSpanExporter,
    _Lifespan,
    _load,
    _time_asgi,
    _wk_recorded,
    fastapi_app,
    raw_asgi_app,
    report,
)

SOURCES = ("src/watchkeeper/tracing", "src/watchkeeper/instrument")
MAX_FRACTION_OF_OTEL = 1 / 3
MAX_US_OVER_METRICS_AT_1_PERCENT = 2.0
METRICS_ONLY = "watchkeeper metrics only"
TRACED_100 = "watchkeeper + tracing 100%"
TRACED_1 = "watchkeeper + tracing 1%"
OTEL = "OpenTelemetry FastAPIInstrumentor 100%"


def _pipeline(sample_ratio: float | None) -> tuple[Any, _CountingSpanExporter]:
    """A provider with the shared cost model: BatchSpanProcessor -> counting exporter."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from watchkeeper.tracing.setup import build_provider

    exporter = _CountingSpanExporter()
    # Big enough that no variant drops spans in a round (a drop is cheaper than a span).
    processor = BatchSpanProcessor(exporter, max_queue_size=1_000_000)  # type: ignore[arg-type]
    provider: TracerProvider
    if sample_ratio is None:
        provider = TracerProvider()
    else:
        provider, _ = build_provider(exporter="none", sample_ratio=sample_ratio)
    provider.add_span_processor(processor)
    return provider, exporter


_PROVIDERS: list[Any] = []


def _flushed(provider: Any, exporter: _CountingSpanExporter) -> Any:
    _PROVIDERS.append(provider)

    def read() -> float:
        provider.force_flush()
        return float(exporter.server_spans)

    return read


def _settle() -> None:
    """Empty every span queue before a timed batch: spans a starved export thread has
    not sent yet would otherwise stay alive and make the next batch's garbage
    collections slower, whichever variant it is."""
    for provider in _PROVIDERS:
        provider.force_flush()


async def _run(variants: list[Variant], rounds: int, n: int) -> None:
    """bench_http's interleaved rounds, with the span queues settled before each batch."""
    lifespans = [_Lifespan(v.app) for v in variants]
    for ls in lifespans:
        await ls.startup()
    try:
        for v, ls in zip(variants, lifespans, strict=True):
            await _check_asgi(v, ls.state)
            await _time_asgi(v, ls.state, max(200, n // 4))  # warm-up
        for r in range(rounds):
            for i in range(len(variants)):
                k = (i + r) % len(variants)
                _settle()
                variants[k].times_us.append(await _time_asgi(variants[k], lifespans[k].state, n))
    finally:
        for ls in lifespans:
            await ls.shutdown()


def _watchkeeper(app: Any, name: str, sample_ratio: float | None) -> Variant:
    import watchkeeper
    from watchkeeper.instrument.registry import Registry
    from watchkeeper.tracing.server import ServerSpanHook

    reg = Registry()
    if sample_ratio is None:
        return Variant(
            name, watchkeeper.instrument(app, registry=reg, tracing=False), _wk_recorded(reg)
        )
    provider, exporter = _pipeline(sample_ratio)
    # The hook with an explicit provider: what instrument() installs after configure(),
    # without making the provider global (see the module docstring).
    traced = watchkeeper.instrument(
        app, registry=reg, tracing=False, hooks=[ServerSpanHook(provider)]
    )
    if traced.__watchkeeper__.exemplar_of is None:
        raise RuntimeError(f"{name}: exemplars are not wired")
    return Variant(name, traced, _flushed(provider, exporter))


def fastapi_variants() -> list[Variant]:
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    out = [Variant("bare", fastapi_app())]
    out.append(_watchkeeper(fastapi_app(), METRICS_ONLY, None))
    out.append(_watchkeeper(fastapi_app(), TRACED_100, 1.0))
    out.append(_watchkeeper(fastapi_app(), TRACED_1, 0.01))
    provider, exporter = _pipeline(None)
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    app = fastapi_app()
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider, meter_provider=meter_provider)
    out.append(Variant(OTEL, app, _flushed(provider, exporter)))
    return out


def raw_variants() -> list[Variant]:
    out = [Variant("bare", raw_asgi_app)]
    out.append(_watchkeeper(raw_asgi_app, METRICS_ONLY, None))
    out.append(_watchkeeper(raw_asgi_app, TRACED_100, 1.0))
    out.append(_watchkeeper(raw_asgi_app, TRACED_1, 0.01))
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (default 15)")
    parser.add_argument("--requests", type=int, default=1000, help="per variant and round")
    args = parser.parse_args(argv)
    rounds, n = args.rounds, args.requests
    print(f"bench_tracing: {rounds} interleaved rounds x {n} requests per variant, GET {ROUTE}")
    print(machine())
    print(revision(*SOURCES))
    print(f"load average at start: {_load()}")
    print()

    fa = fastapi_variants()
    asyncio.run(_run(fa, rounds, n))
    over = report("FastAPI (ASGI, in-process driver): median µs per request", fa, OTEL)
    raw = raw_variants()
    asyncio.run(_run(raw, rounds, n))
    raw_over = report(
        "Raw ASGI callable, no framework (middleware + hook cost alone): median µs/request",
        raw,
        None,
    )

    ours, peer = over[TRACED_100], over[OTEL]
    at_1, metrics = over[TRACED_1], over[METRICS_ONLY]
    print("targets:")
    ok = ours <= MAX_FRACTION_OF_OTEL * peer
    print(
        f"  tracing 100%: watchkeeper/OpenTelemetry overhead {ours:.1f}/{peer:.1f} ="
        f" {ours / peer:.3f} <= 1/3 = {MAX_FRACTION_OF_OTEL:.3f}: {verdict(ok)}"
    )
    ok = at_1 - metrics <= MAX_US_OVER_METRICS_AT_1_PERCENT
    print(
        f"  tracing 1%: {at_1:.1f} - metrics only {metrics:.1f} = {at_1 - metrics:+.1f} µs"
        f" <= {MAX_US_OVER_METRICS_AT_1_PERCENT:.0f} µs: {verdict(ok)}"
    )
    raw_diff = raw_over[TRACED_1] - raw_over[METRICS_ONLY]
    print(f"  (raw ASGI, no framework: tracing 1% over metrics only {raw_diff:+.1f} µs)")
    print(f"load average at end: {_load()} (a loaded machine inflates every row alike)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
