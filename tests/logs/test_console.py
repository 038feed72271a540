from __future__ import annotations

import logging

import watchkeeper.logs as wlogs
from tests.logs.conftest import Sink
from watchkeeper.logs import ConsoleFormatter


def test_a_readable_line_with_fields_and_redaction() -> None:
    sink = Sink(ConsoleFormatter(service="shop"), name="test.console")
    with wlogs.context(request_user="bob"):
        sink.logger.warning(
            "paid %s", "now", extra={"amount": 9.5, "note": "two words", "password": "x"}
        )
    text = sink.text().rstrip("\n")
    time_part, rest = text.split(" ", 1)
    assert len(time_part) == len("23:48:21.123")
    assert time_part[2] == ":"
    assert rest.startswith("WARNING  test.console: paid now  ")
    assert 'request_user=bob amount=9.5 note="two words" password=[REDACTED]' in rest
    assert "\x1b[" not in text  # no colours unless asked


def test_exceptions_follow_with_their_stack() -> None:
    sink = Sink(ConsoleFormatter(), name="test.console")
    try:
        raise KeyError("k")
    except KeyError:
        sink.logger.exception("lookup")
    lines = sink.text().splitlines()
    assert "ERROR" in lines[0]
    assert lines[0].endswith("lookup")
    assert lines[1] == "Traceback (most recent call last):"
    assert lines[-1] == "KeyError: 'k'"


def test_colours_when_asked() -> None:
    sink = Sink(ConsoleFormatter(color=True), name="test.console")
    sink.logger.error("bad", extra={"k": 1})
    text = sink.text()
    assert "\x1b[31mERROR" in text
    assert "\x1b[36mk\x1b[0m=1" in text
    logging.getLogger("test.console").handlers = []
