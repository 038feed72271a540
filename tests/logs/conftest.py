"""Every logs test leaves the root logger as it found it (handlers, level)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

import watchkeeper.logs as wlogs
from watchkeeper.logs import binding
from watchkeeper.logs.json_format import JSONFormatter


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    # Start outside any request: a WSGI test elsewhere whose response body was never
    # read leaves its request's context set in the runner's context (a server always
    # closes the body; a lazy test client may not).
    token = binding._request.set(None)
    yield
    binding._request.reset(token)
    wlogs.clear()  # fields bound outside a request live in the test runner's context
    wlogs.unconfigure()
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


class Sink:
    """A logger whose lines go through one formatter into memory, parsed back."""

    def __init__(self, formatter: logging.Formatter, name: str = "test.logs") -> None:
        self.buffer = io.BytesIO()
        self.handler = wlogs.LineHandler(self.buffer, formatter)
        self.logger = logging.getLogger(name)
        self.logger.handlers = [self.handler]
        self.logger.propagate = False
        self.logger.setLevel(logging.DEBUG)

    def text(self) -> str:
        return self.buffer.getvalue().decode()

    def lines(self) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in self.buffer.getvalue().splitlines()]

    def last(self) -> dict[str, Any]:
        return self.lines()[-1]


@pytest.fixture
def sink() -> Iterator[Sink]:
    made = Sink(JSONFormatter(service="shop"))
    yield made
    made.logger.handlers = []
    made.logger.propagate = True
