from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from watchkeeper.monitor.storage import TSDB, open_storage


@pytest.fixture
def db(tmp_path: Path) -> Iterator[TSDB]:
    with open_storage(tmp_path / "data") as store:
        yield store
