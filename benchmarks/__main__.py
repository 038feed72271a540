"""Run every benchmark: ``python -m benchmarks [name ...]``.

Discovers the ``bench_*.py`` modules next to this file and runs, in name order,
each one that defines ``main()``, printing its tables. Names given on the command
line (``http``, ``bench_http``) restrict the run to those modules. Each module
runs with default settings: its ``main()`` is called with an empty argument list
when it accepts one, else with none, and ``sys.argv`` holds no arguments meanwhile
(so no module parses ours).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path


def discover() -> list[str]:
    here = Path(__file__).resolve().parent
    return sorted(p.stem for p in here.glob("bench_*.py"))


def _run(name: str) -> bool:
    module = importlib.import_module(f"benchmarks.{name}")
    entry = getattr(module, "main", None)
    if not callable(entry):
        return True  # a helper module without an entry point: nothing to run
    print(f"=== {name} " + "=" * max(0, 70 - len(name)), flush=True)
    started = time.perf_counter()
    saved_argv = sys.argv
    sys.argv = [f"benchmarks.{name}"]  # a main() that parses sys.argv sees no arguments
    try:
        if inspect.signature(entry).parameters:
            entry([])
        else:
            entry()
    except Exception:
        # One broken benchmark must not hide the others' numbers.
        traceback.print_exc()
        print(f"=== {name} FAILED", flush=True)
        return False
    finally:
        sys.argv = saved_argv
    print(f"=== {name} done in {time.perf_counter() - started:.0f} s\n", flush=True)
    return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    args = parser.parse_args(argv)
    available = discover()
    wanted = [n if n.startswith("bench_") else f"bench_{n}" for n in args.names] or available
    unknown = [n for n in wanted if n not in available]
    if unknown:
        parser.error(f"unknown benchmark {unknown}; available: {available}")
    failed = [name for name in wanted if not _run(name)]
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
