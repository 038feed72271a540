"""`make demo` runs the quickstart service and prints the golden signals it measured."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_demo_prints_golden_signals_per_route_template() -> None:
    result = subprocess.run(
        [sys.executable, "examples/demo.py"],
        cwd=ROOT,
        env={**os.environ, "DEMO_SECONDS": "3", "COLUMNS": "120"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    final = result.stdout.rsplit("Golden signals", 1)[-1]
    for route in ["/orders/{order_id}", "/orders/{order_id}/pay", "_unmatched", "/flaky"]:
        assert f"│ {route} " in final, final
    assert "wp-" not in final  # raw scan paths never become routes
    assert "saturation: CPU" in final
