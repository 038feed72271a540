"""Business metrics: what one ``outcome()``, ``llm.record()`` and ``job()`` cost, next to the
same updates hand-written with prometheus_client (what the guides do).

No target in issue #4; the point is that bounding labels (folding, hashing, the
active-key table) does not make our calls dearer than the unbounded hand-written ones.
Variants run interleaved, ``--calls`` per round, CPU time per call; the median over
rounds is reported with its ratio to prometheus_client's.

    python -m benchmarks.bench_business [--rounds 15] [--calls 20000]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from time import process_time

import prometheus_client as pc

from benchmarks._common import machine, median, revision, table
from watchkeeper.instrument import llm
from watchkeeper.instrument.outcomes import job, outcome
from watchkeeper.instrument.registry import Registry


def _variants() -> dict[str, tuple[Callable[[], None], Callable[[], None]]]:
    """name -> (watchkeeper call, prometheus_client call)."""
    reg = Registry()
    pr = pc.CollectorRegistry()
    outcomes = pc.Counter("outcomes", "", ["operation", "result", "reason"], registry=pr)
    tokens = pc.Counter("llm_tokens", "", ["model", "kind"], registry=pr)
    cost = pc.Counter("llm_cost_usd", "", ["model"], registry=pr)
    requests = pc.Counter("llm_requests", "", ["model", "result", "error_type"], registry=pr)
    latency = pc.Histogram("llm_request_duration_seconds", "", ["model"], registry=pr,
                           buckets=llm.DURATION_BUCKETS)  # fmt: skip
    active = pc.Gauge("jobs_active", "", ["job_name"], registry=pr)
    duration = pc.Histogram("job_duration_seconds", "", ["job_name", "dataset", "status"],
                            registry=pr)  # fmt: skip
    processed = pc.Counter("job_processed_bytes", "", ["job_name", "dataset"], registry=pr)

    def pc_outcome() -> None:
        outcomes.labels("verification", "failure", "timeout").inc()

    def pc_llm() -> None:
        tokens.labels("gpt-4o", "input").inc(812)
        tokens.labels("gpt-4o", "output").inc(95)
        cost.labels("gpt-4o").inc((812 * 2.5 + 95 * 10.0) / 1e6)
        requests.labels("gpt-4o", "ok", "").inc()
        latency.labels("gpt-4o").observe(1.9)

    def pc_job() -> None:
        active.labels("analysis").inc()
        with duration.labels("analysis", "sales", "success").time():
            processed.labels("analysis", "sales").inc(1024)
        active.labels("analysis").dec()

    def wk_outcome() -> None:
        outcome("verification", ok=False, reason="timeout", registry=reg)

    def wk_llm() -> None:
        llm.record("gpt-4o", input_tokens=812, output_tokens=95, duration=1.9, registry=reg)

    def wk_llm_key() -> None:
        llm.record("gpt-4o", input_tokens=812, output_tokens=95, duration=1.9,
                   api_key="sk-customer-0001", registry=reg)  # fmt: skip

    def wk_job() -> None:
        with job("analysis", dataset="sales", registry=reg) as run:
            run.add_bytes(1024)

    return {
        "outcome()": (wk_outcome, pc_outcome),
        "llm.record()": (wk_llm, pc_llm),
        "llm.record(api_key=)": (wk_llm_key, pc_llm),
        "job() with add_bytes": (wk_job, pc_job),
    }


def _cpu_per_call(fn: Callable[[], None], calls: int) -> float:
    started = process_time()
    for _ in range(calls):
        fn()
    return (process_time() - started) / calls


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args(argv)
    variants = _variants()
    ours: dict[str, list[float]] = {name: [] for name in variants}
    theirs: dict[str, list[float]] = {name: [] for name in variants}
    for wk, pcl in variants.values():  # warm up: children created, caches filled
        _cpu_per_call(wk, 1000)
        _cpu_per_call(pcl, 1000)
    for r in range(args.rounds):
        for name, (wk, pcl) in variants.items():
            pair = [(ours, wk), (theirs, pcl)]
            for store, fn in pair if r % 2 == 0 else reversed(pair):
                store[name].append(_cpu_per_call(fn, args.calls))
    rows = []
    for name in variants:
        a, b = median(ours[name]) * 1e6, median(theirs[name]) * 1e6
        rows.append([name, f"{a:.2f}", f"{b:.2f}", f"{a / b:.2f}"])
    print(machine())
    print(revision("src/watchkeeper/instrument"))
    print(f"{args.rounds} rounds x {args.calls} calls, CPU time per call (median)")
    print(table(["call", "watchkeeper µs", "prometheus_client µs", "ratio"], rows))


if __name__ == "__main__":
    main()
