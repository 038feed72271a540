"""Rule evaluation: the embedded rules engine against promtool 2.42 on the same unit tests.

Both run the promtool unit-test file generated for an example spec (``watchkeeper
generate``): every rule group evaluated at every minute of every test group, the same
work ``watchkeeper up`` does per evaluation interval, plus loading the input series.

- promtool: ``promtool test rules FILE`` (its own process; wall and CPU time, the CPU
  from ``getrusage(RUSAGE_CHILDREN)``; Go spreads it over threads);
- embedded: ``run_unit_test_file`` in this process (wall and CPU time).

Reported: median wall and CPU time per run, the ratios (embedded / promtool), and the
number of rule evaluations, so the cost per rule evaluation can be read off. The runs
alternate. On a loaded machine the wall times follow the load; read the CPU ratio.

Run: ``.venv/bin/python -m benchmarks.bench_rules [--example minimal] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks._common import machine, median, revision, table
from watchkeeper.generate import generate_all
from watchkeeper.monitor.rules import load_rule_file, run_unit_test_file
from watchkeeper.spec import load_spec

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "specs"


def _evaluations(test_file: Path) -> tuple[int, int]:
    """(rule evaluations, rules) the run performs: rules x steps summed over test groups."""
    from ruamel.yaml import YAML

    from watchkeeper.monitor.promql import parse_duration

    doc = YAML(typ="safe", pure=True).load(test_file.read_text())
    rules = sum(
        len(g.rules) for f in doc["rule_files"] for g in load_rule_file(test_file.parent / f)
    )
    step = parse_duration(str(doc.get("evaluation_interval", "1m")))
    steps = 0
    for group in doc["tests"]:
        times = [c["eval_time"] for c in group.get("alert_rule_test", [])]
        times += [c["eval_time"] for c in group.get("promql_expr_test", [])]
        steps += max(parse_duration(str(t)) for t in times) // step + 1
    return steps * rules, rules


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--example", default="minimal")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        spec_path = EXAMPLES / f"{args.example}.yaml"
        for artifact in generate_all(load_spec(spec_path), spec_path.name):
            path = Path(tmp) / artifact.path
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(artifact.text)
        (test_file,) = (Path(tmp) / "prometheus" / "tests").glob("*.yml")
        evaluations, rules = _evaluations(test_file)
        ours_wall: list[float] = []
        ours_cpu: list[float] = []
        theirs_wall: list[float] = []
        theirs_cpu: list[float] = []
        for _ in range(args.rounds):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            done = subprocess.run(
                ["promtool", "test", "rules", test_file.name],
                cwd=test_file.parent,
                capture_output=True,
                check=False,
            )
            theirs_wall.append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            theirs_cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
            assert done.returncode == 0, done.stdout + done.stderr
            start, cpu = time.perf_counter(), time.process_time()
            result = run_unit_test_file(test_file)
            ours_wall.append(time.perf_counter() - start)
            ours_cpu.append(time.process_time() - cpu)
            assert result.ok, result.report()
    ours, theirs = median(ours_wall), median(theirs_wall)
    cpu_ratio = median(ours_cpu) / median(theirs_cpu)
    print(machine())
    print(revision("src/watchkeeper/monitor/rules", "src/watchkeeper/monitor/promql"))
    print(f"{args.example}: {rules} rules, {evaluations} rule evaluations per run")
    print(
        table(
            ["engine", "wall s (median)", "CPU s", "µs per rule evaluation"],
            [
                [
                    "promtool 2.42",
                    f"{theirs:.2f}",
                    f"{median(theirs_cpu):.2f}",
                    f"{theirs / evaluations * 1e6:.0f}",
                ],
                [
                    "embedded",
                    f"{ours:.2f}",
                    f"{median(ours_cpu):.2f}",
                    f"{ours / evaluations * 1e6:.0f}",
                ],
            ],
        )
    )
    print(f"ratio embedded / promtool: wall {ours / theirs:.2f}, CPU {cpu_ratio:.2f}")


if __name__ == "__main__":
    main()
