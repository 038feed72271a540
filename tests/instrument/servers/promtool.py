"""``promtool check metrics`` over an exposition: the lint the metric names must pass."""

from __future__ import annotations

import shutil
import subprocess

import pytest


def promtool_problems(exposition: str) -> str:
    """promtool's complaints about ``exposition`` (empty when clean); skips without promtool."""
    promtool = shutil.which("promtool")
    if promtool is None:  # scripts/setup-system.sh installs it; CI always has it
        pytest.skip("needs Debian's promtool (scripts/setup-system.sh)")
    done = subprocess.run(
        [promtool, "check", "metrics"], input=exposition.encode(), capture_output=True,
        timeout=60, check=False,
    )  # fmt: skip
    return (done.stdout + done.stderr).decode().strip()
