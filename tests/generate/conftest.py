from __future__ import annotations

from pathlib import Path

import pytest

from watchkeeper.spec import ServiceSpec, load_spec

EXAMPLES_DIR = Path(__file__).parents[2] / "examples" / "specs"


@pytest.fixture(scope="session")
def shop() -> ServiceSpec:
    return load_spec(EXAMPLES_DIR / "shop.yaml")
