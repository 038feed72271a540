"""watchkeeper.testing.capture_logs: the lines of a block, as the JSON formatter writes them."""

from __future__ import annotations

import io
import logging

import watchkeeper.logs as wlogs
from watchkeeper.testing import capture_logs


def test_capture_logs_collects_rendered_lines_and_restores_the_logger() -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    with capture_logs() as lines, wlogs.context(job="nightly"):
        logging.getLogger("app").debug("cart %s", "full", extra={"password": "p", "n": 2})
    assert len(lines) == 1
    line = lines[0]
    assert line["level"] == "debug"
    assert line["message"] == "cart full"
    assert line["job"] == "nightly"
    assert line["password"] == "[REDACTED]"
    assert line["n"] == 2
    assert root.handlers == handlers
    assert root.level == level


def test_capture_logs_uses_the_configured_settings_and_level() -> None:
    wlogs.configure(format="json", stream=io.StringIO(), service="svc", truncate=4)
    try:
        with capture_logs(level=logging.WARNING, logger="svc") as lines:
            logging.getLogger("svc.db").info("ignored")
            logging.getLogger("svc.db").warning("slow query")
            logging.getLogger("other").warning("elsewhere")
    finally:
        wlogs.unconfigure()
    assert [(line["message"], line["service"]) for line in lines] == [
        ("slow…[truncated 6 chars]", "svc")
    ]
