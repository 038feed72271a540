"""A/B of the ASGI middleware: a git revision's ``instrument/asgi.py`` against the
working tree's, in one process, on bench_http's FastAPI app and driver.

For a change to the hot path a few hundred nanoseconds matter, and the numbers of
two separate bench_http runs differ by more than that on this shared VM. Here both
middlewares (and a bare app, and the hand-written timer for scale) run interleaved
in the same process: each round times every variant once, in rotated order.

Two estimates per variant:

- the median of the paired per-round differences against the bare app (what
  bench_http reports);
- "normalised": the median of each round's ratio to its own bare round, times the
  fastest bare round, minus it. Whole rounds of this VM sometimes run up to 1.6×
  slower, and every overhead grows with them; the ratio cancels that and states the
  overhead at the machine's best speed.

Run: ``.venv/bin/python -m benchmarks.ab_asgi [--base HEAD] [--rounds 21]
[--requests 1000]``. Instruction counts (load-independent) are the other half of
such a comparison: see docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks._common import machine, median
from benchmarks.bench_http import (
    MinimalASGITimer,
    Variant,
    _run_asgi,
    _wk_recorded,
    fastapi_app,
    report,
)

ROOT = Path(__file__).resolve().parent.parent
MIDDLEWARE = "src/watchkeeper/instrument/asgi.py"


def middleware_at(rev: str) -> type[Any]:
    """``WatchkeeperMiddleware`` as ``MIDDLEWARE`` was at git revision ``rev``."""
    source = subprocess.run(
        ["git", "show", f"{rev}:{MIDDLEWARE}"],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=30,
    ).stdout  # fmt: skip
    module = types.ModuleType(f"asgi_at_{rev}")
    exec(compile(source, f"{rev}:{MIDDLEWARE}", "exec"), module.__dict__)
    cls: type[Any] = module.WatchkeeperMiddleware
    return cls


def instrumented(name: str, middleware: type[Any]) -> Variant:
    import watchkeeper
    from watchkeeper.instrument.registry import Registry

    reg = Registry()
    app = watchkeeper.instrument(fastapi_app(), service="bench", registry=reg)
    app.user_middleware[0].cls = middleware  # instrument() added it; the stack is built later
    return Variant(name, app, _wk_recorded(reg))


def normalised(variant: Variant, bare: Variant) -> float:
    """µs over bare at the machine's best speed (see the module docstring)."""
    best = min(bare.times_us)
    ratios = [t / b for t, b in zip(variant.times_us, bare.times_us, strict=True)]
    return median(ratios) * best - best


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--base", default="HEAD", help="git revision to compare with")
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args(argv)
    from watchkeeper.instrument.asgi import WatchkeeperMiddleware

    timer = MinimalASGITimer(fastapi_app())
    variants = [
        Variant("bare", fastapi_app()),
        Variant("hand-written pure ASGI timer", timer, timer.count),
        instrumented(f"watchkeeper at {args.base}", middleware_at(args.base)),
        instrumented("watchkeeper, working tree", WatchkeeperMiddleware),
    ]
    print(f"ab_asgi: {args.rounds} interleaved rounds x {args.requests} FastAPI requests")
    print(machine())
    asyncio.run(_run_asgi(variants, args.rounds, args.requests))
    report("FastAPI, in-process driver: median µs per request", variants, None)
    for v in variants[1:]:
        print(f"  {v.name}: normalised overhead {normalised(v, variants[0]):+.2f} µs")


if __name__ == "__main__":
    main()
