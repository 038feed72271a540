"""Exposition speed: watchkeeper's ``render`` vs prometheus_client's ``generate_latest``.

The application holds the GIL while it renders a scrape, so render time is request
time stolen from the app. Both registries get identical content, built through
each library's public API with the same observations in the same order:

- ``counters``: one counter family with 10,000 label sets (1,000 routes x 10 status
  codes; three label values need escaping: quote, backslash, newline);
- ``histograms``: one histogram family with 1,000 children (100 routes x 10
  methods) and the 14 default buckets, observations on and between bucket bounds.

Timed: ``generate_latest(registry)`` (bytes) against ``render(registry).encode()``
(watchkeeper's endpoint encodes too, so both sides end with bytes), for Prometheus
text 0.0.4 and for OpenMetrics 1.0, in interleaved repeats; median reported. Time
is this thread's CPU time, so other processes on a shared machine do not count.
prometheus_client adds a ``_created`` series per child by default; the speedup is
computed against it with those disabled (``disable_created_metrics()``: the very
same series on both sides) and the default is shown for reference.

"Same bytes semantics": both outputs are parsed with prometheus_client's own
parsers and the families (name, type, help) and samples (name, labels, value) must
be equal; a MISMATCH is a bug in watchkeeper's exposition.

Run: ``.venv/bin/python -m benchmarks.bench_exposition [--repeat 7]``
"""

from __future__ import annotations

import argparse
import gc
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from time import thread_time
from typing import Any

from benchmarks._common import machine, median, revision, table, verdict

TARGET_SPEEDUP = 5.0
COUNTER_ROUTES, COUNTER_CODES = 1000, 10
HIST_ROUTES, HIST_METHODS = 100, 10
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "CONNECT", "QUERY")
# Values exactly on a bound (le is inclusive), between bounds, and beyond the last.
OBSERVATIONS = (0.005, 0.0123, 0.1, 0.3, 2.5, 11.0)
TRICKY = {0: 'say "hi"', 1: "C:\\temp\\x", 2: "two\nlines"}


def _route(i: int) -> str:
    return TRICKY.get(i, f"/api/v1/resource{i}/{{id}}")


def _counter_series() -> Iterable[tuple[str, str, float]]:
    for r in range(COUNTER_ROUTES):
        for c in range(COUNTER_CODES):
            yield _route(r), str(200 + c * 31), (r * 7 + c) % 97 + 0.25 * (c % 4)


def _histogram_children() -> Iterable[tuple[str, str, Sequence[float]]]:
    for r in range(HIST_ROUTES):
        for m, method in enumerate(METHODS):
            # A different slice of observations per child, so counts differ.
            k = (r + m) % len(OBSERVATIONS)
            yield _route(r), method, OBSERVATIONS[k:] + OBSERVATIONS[: k // 2]


@dataclass
class Case:
    name: str
    pc_registry: Any
    wk_registry: Any
    metric: str


def build_counters() -> Case:
    from prometheus_client import CollectorRegistry, Counter

    from watchkeeper.instrument.registry import Registry

    pc = CollectorRegistry()
    wk = Registry()
    doc = "Requests handled, by route and status."
    labels = ["route", "code"]
    pc_counter = Counter("bench_requests", doc, labels, registry=pc)
    wk_counter = wk.counter("bench_requests", doc, labels, limit=COUNTER_ROUTES * COUNTER_CODES)
    for route, code, amount in _counter_series():
        pc_counter.labels(route, code).inc(amount)
        wk_counter.labels(route, code).inc(amount)
    return Case("10k counter series", pc, wk, "bench_requests")


def build_histograms() -> Case:
    from prometheus_client import CollectorRegistry, Histogram

    from watchkeeper.instrument._semconv import DURATION_BUCKETS
    from watchkeeper.instrument.registry import Registry

    assert tuple(Histogram.DEFAULT_BUCKETS[:-1]) == DURATION_BUCKETS  # the same 14 buckets
    pc = CollectorRegistry()
    wk = Registry()
    doc = "Request duration, by route and method."
    labels = ["route", "method"]
    pc_hist = Histogram("bench_duration_seconds", doc, labels, registry=pc)
    wk_hist = wk.histogram(
        "bench_duration_seconds",
        doc,
        labels,
        buckets=DURATION_BUCKETS,
        limit=HIST_ROUTES * HIST_METHODS,
    )
    for route, method, values in _histogram_children():
        pc_child = pc_hist.labels(route, method)
        wk_child = wk_hist.labels(route, method)
        for v in values:
            pc_child.observe(v)
            wk_child.observe(v)
    return Case("1k histogram children x 14 buckets", pc, wk, "bench_duration_seconds")


# -- timing ---------------------------------------------------------------------------
def _interleaved(fns: dict[str, Callable[[], bytes]], repeat: int) -> dict[str, float]:
    """Median ms per function, the functions alternating so drift hits all alike."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for fn in fns.values():
        fn()
    for _ in range(repeat):
        for key, fn in fns.items():
            gc.collect()
            t0 = thread_time()
            fn()
            times[key].append((thread_time() - t0) * 1e3)
    return {k: median(v) for k, v in times.items()}


# -- semantics check ------------------------------------------------------------------
SampleKey = tuple[str, tuple[tuple[str, str], ...], float]


def _parse(text: str, openmetrics: bool) -> tuple[set[tuple[str, str, str]], set[SampleKey]]:
    if openmetrics:
        from prometheus_client.openmetrics.parser import text_string_to_metric_families
    else:
        from prometheus_client.parser import text_string_to_metric_families

    families = set()
    samples = set()
    for fam in text_string_to_metric_families(text):  # type: ignore[no-untyped-call]
        if fam.samples:  # watchkeeper's registry also declares two empty self-metrics
            families.add((fam.name, fam.type, fam.documentation))
        for s in fam.samples:
            samples.add((s.name, tuple(sorted(s.labels.items())), float(s.value)))
    return families, samples


def compare(pc_text: str, wk_text: str, openmetrics: bool) -> tuple[bool, str]:
    pc_fams, pc_samples = _parse(pc_text, openmetrics)
    wk_fams, wk_samples = _parse(wk_text, openmetrics)
    if pc_fams == wk_fams and pc_samples == wk_samples:
        return True, f"OK ({len(wk_samples)} samples)"
    only_pc = sorted(pc_samples - wk_samples)[:3] + sorted(pc_fams - wk_fams)[:2]
    only_wk = sorted(wk_samples - pc_samples)[:3] + sorted(wk_fams - pc_fams)[:2]
    return False, f"MISMATCH: only prometheus_client {only_pc}; only watchkeeper {only_wk}"


# -- main -----------------------------------------------------------------------------
def run_case(case: Case, repeat: int) -> tuple[list[list[str]], list[str], list[float]]:
    import prometheus_client
    from prometheus_client.openmetrics import exposition as om

    from watchkeeper.instrument.exposition import render

    pc, wk = case.pc_registry, case.wk_registry

    def wk_text() -> bytes:
        return render(wk).encode()

    def wk_om() -> bytes:
        return render(wk, openmetrics=True).encode()

    def pc_text() -> bytes:
        return bytes(prometheus_client.generate_latest(pc))

    def pc_om() -> bytes:
        return bytes(om.generate_latest(pc))  # type: ignore[no-untyped-call]

    was_on = bool(prometheus_client.metrics._use_created)
    prometheus_client.enable_created_metrics()  # type: ignore[no-untyped-call]
    default = _interleaved({"text": pc_text, "om": pc_om}, repeat)
    prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]
    try:
        ms = _interleaved(
            {"pc_text": pc_text, "wk_text": wk_text, "pc_om": pc_om, "wk_om": wk_om}, repeat
        )
        checks = [
            "text 0.0.4: " + compare(pc_text().decode(), wk_text().decode(), False)[1],
            "OpenMetrics: " + compare(pc_om().decode(), wk_om().decode(), True)[1],
        ]
    finally:
        # Leave the process as we found it (bench_http runs next in the same process).
        if was_on:
            prometheus_client.enable_created_metrics()  # type: ignore[no-untyped-call]

    rows = []
    speedups = []
    for label, pc_key, wk_key, dflt in (
        ("Prometheus text 0.0.4", "pc_text", "wk_text", default["text"]),
        ("OpenMetrics 1.0", "pc_om", "wk_om", default["om"]),
    ):
        speedup = ms[pc_key] / ms[wk_key]
        speedups.append(speedup)
        rows.append([
            f"{case.name}, {label}",
            f"{ms[pc_key]:.1f}",
            f"{dflt:.1f}",
            f"{ms[wk_key]:.1f}",
            f"{speedup:.1f}x",
            f"{dflt / ms[wk_key]:.1f}x",
        ])  # fmt: skip
    return rows, checks, speedups


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="render() vs generate_latest()")
    parser.add_argument("--repeat", type=int, default=7, help="interleaved repeats (default 7)")
    args = parser.parse_args(argv)
    print(f"bench_exposition: median of {args.repeat} interleaved repeats, ms per full render")
    print(machine())
    print(revision("src/watchkeeper/instrument"))
    print()
    rows: list[list[str]] = []
    checks: list[str] = []
    speedups: list[tuple[str, float]] = []
    for build in (build_counters, build_histograms):
        case = build()
        case_rows, case_checks, (text_x, om_x) = run_case(case, args.repeat)
        rows.extend(case_rows)
        checks.extend(f"{case.name}, {c}" for c in case_checks)
        speedups += [(f"{case.name}, text", text_x), (f"{case.name}, OpenMetrics", om_x)]
    print(
        table(
            [
                "series",
                "generate_latest ms",
                "(+_created) ms",
                "watchkeeper ms",
                "speedup",
                "(vs +_created)",
            ],
            rows,
        )
    )
    print()
    print("same bytes semantics (parsed by prometheus_client):")
    for check in checks:
        print(f"  {check}")
    print()
    print("targets:")
    for name, s in speedups:
        print(f"  {name}: {s:.1f}x >= {TARGET_SPEEDUP:.0f}x: {verdict(s >= TARGET_SPEEDUP)}")


if __name__ == "__main__":
    main()
