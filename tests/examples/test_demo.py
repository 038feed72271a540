"""`make demo` end to end: two examples and the embedded monitor, a fault at half time.

The slow test runs examples/demo.py as `make demo` does, with DEMO_SECONDS=40 (so the
fault is injected at 20 s), and checks the final summary the demo prints from the
monitor's query API: a row per service with requests/s and p50/p95/p99, the console URL
with its token, and that every process the demo started is gone afterwards. The fast
one checks that the demo's copy of every example spec is a valid spec.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from examples.demo import ALERT_FOR, SCRAPE, Example, _load_spec, demo_spec
from ruamel.yaml import YAML

from watchkeeper.spec import check_spec, load_spec

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_EXAMPLES = ("verification_api", "llm_gateway")
EXAMPLE_SPECS = sorted(p.parent.name for p in ROOT.glob("examples/*/watchkeeper.yaml"))


@pytest.mark.parametrize("name", EXAMPLE_SPECS)
def test_the_demo_copy_of_each_example_spec_is_valid(name: str, tmp_path: Path) -> None:
    example = Example(
        name=name,
        spec=_load_spec(name),
        command=lambda port, upstream: [],
        upstream=None,
        request=lambda rng: ("GET", "/", None, {}),
        port=45678,
    )
    sink = "http://127.0.0.1:45679/alerts"
    path = tmp_path / "spec.yaml"
    YAML(typ="safe").dump(demo_spec(example, sink), path)
    spec = load_spec(path)  # raises SpecProblems, naming file:line, if the copy is invalid
    assert check_spec(spec) == []
    copy = YAML(typ="safe").load(path)
    assert copy["targets"][0].startswith("http://127.0.0.1:45678/")
    assert copy["scrape_interval"] == SCRAPE
    assert copy["alerts"]["HighErrorRate"]["for"] == ALERT_FOR
    receivers = copy["notify"]["receivers"]
    assert receivers
    assert all(r["webhook"] == {"url": sink} for r in receivers)
    original = {r["name"] for r in (example.spec.get("notify") or {}).get("receivers", [])}
    assert original <= {r["name"] for r in receivers}  # the routes still find them


@pytest.mark.slow
def test_demo_runs_two_examples_under_the_monitor_and_stops_them() -> None:
    env = {**os.environ, "DEMO_SECONDS": "40", "COLUMNS": "140"}
    env.pop("DEMO_EXAMPLES", None)
    result = subprocess.run(
        [sys.executable, "examples/demo.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    out = result.stdout
    assert result.returncode == 0, out[-4000:] + result.stderr[-3000:]

    assert re.search(r"console: http://127\.0\.0\.1:\d+/\?token=[\w-]{16,}", out), out[:2000]
    services = re.findall(r"^(\S+) \(examples/\S+\) on http://127\.0\.0\.1:\d+", out, re.M)
    assert len(services) >= 2, out[:2000]

    examples_present = all(
        (ROOT / "examples" / n / "__main__.py").exists() for n in DEFAULT_EXAMPLES
    )
    if examples_present:
        assert "fault injected:" in out, out[-4000:]
        assert re.search(r"Driving traffic for 40 s.*?at 20 s", out, re.S), out[:3000]

    assert "Summary (embedded monitor" in out, out[-4000:]
    summary = out.rsplit("Summary (embedded monitor", 1)[1]
    for service in services:
        row = re.search(
            rf"│ {re.escape(service)} +│ +yes │ +([\d.]+) │ +[\d.]+% │ +(\d+) ms │ +(\d+) ms │"
            rf" +(\d+) ms │",
            summary,
        )
        assert row, f"no golden-signal row for {service}:\n{summary}"
        requests_per_s, p50, p95, p99 = (float(g) for g in row.groups())
        assert requests_per_s > 0
        assert p50 <= p95 <= p99
    assert "Alerts (/api/v1/alerts)" in summary

    stopped = re.search(r"^stopped processes ([\d, ]+)$", out, re.M)
    assert stopped, out[-2000:]
    pids = [int(p) for p in stopped.group(1).split(",")]
    assert len(pids) >= 3  # two services and the monitor (plus any fake upstreams)
    assert not [pid for pid in pids if psutil.pid_exists(pid)]
