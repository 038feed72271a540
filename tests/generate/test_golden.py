"""Golden files: the generated output of each example spec, reviewed and committed.

Regenerate after an intended change with ``WATCHKEEPER_UPDATE_GOLDEN=1 pytest
tests/generate/test_golden.py``, then review the diff like code.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from watchkeeper.generate import generate_all
from watchkeeper.spec import load_spec

GOLDEN = Path(__file__).parent / "golden"
EXAMPLES = Path(__file__).parents[2] / "examples" / "specs"
UPDATE = os.environ.get("WATCHKEEPER_UPDATE_GOLDEN") == "1"


@pytest.mark.parametrize("example", ["minimal", "shop"])
def test_generated_files_match_golden(example: str) -> None:
    spec_path = EXAMPLES / f"{example}.yaml"
    artifacts = {a.path: a.text for a in generate_all(load_spec(spec_path), spec_path.name)}
    root = GOLDEN / example
    if UPDATE:
        for old in root.rglob("*"):
            if old.is_file():
                old.unlink()
        for path, text in artifacts.items():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(text, encoding="utf-8")
    on_disk = {
        str(p.relative_to(root)): p.read_text(encoding="utf-8")
        for p in root.rglob("*")
        if p.is_file()
    }
    assert sorted(on_disk) == sorted(artifacts), "file set differs; see the module docstring"
    for path, text in artifacts.items():
        assert text == on_disk[path], f"{path} differs from golden; see the module docstring"
