"""configure(): idempotent, polite to other handlers, formats, files, errors."""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path

import orjson
import pytest

import watchkeeper.logs as wlogs
from watchkeeper.errors import ConfigurationError
from watchkeeper.logs import ConsoleFormatter, JSONFormatter, LineHandler, RotatingFileHandler


def _ours() -> list[logging.Handler]:
    return [h for h in logging.getLogger().handlers if isinstance(h, LineHandler)]


def test_configure_twice_replaces_its_handler_and_leaves_others() -> None:
    root = logging.getLogger()
    other = logging.StreamHandler(io.StringIO())
    root.addHandler(other)
    first, second = io.StringIO(), io.StringIO()
    wlogs.configure(format="json", stream=first)
    wlogs.configure(format="json", stream=second, level="DEBUG")
    assert len(_ours()) == 1
    assert other in root.handlers
    assert root.level == logging.DEBUG
    logging.getLogger("app").debug("once")
    assert first.getvalue() == ""
    assert orjson.loads(second.getvalue())["message"] == "once"
    assert "once" in other.stream.getvalue()


def test_replace_handlers_removes_the_others() -> None:
    other = logging.StreamHandler(io.StringIO())
    logging.getLogger().addHandler(other)
    wlogs.configure(stream=io.StringIO(), replace_handlers=True)
    assert other not in logging.getLogger().handlers
    assert len(logging.getLogger().handlers) == 1


def test_auto_is_json_off_a_terminal_and_console_on_one() -> None:
    wlogs.configure(format="auto", stream=io.StringIO())
    assert isinstance(_ours()[0].formatter, JSONFormatter)
    master, replica = os.openpty()
    with os.fdopen(replica, "w") as tty:
        wlogs.configure(format="auto", stream=tty)
        formatter = _ours()[0].formatter
        assert isinstance(formatter, ConsoleFormatter)
        assert formatter.color == (not os.environ.get("NO_COLOR"))
        wlogs.unconfigure()
    os.close(master)


def test_file_logging_is_json_with_rotation(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    wlogs.configure(file=path, max_bytes=500, backups=1, service="svc", format="auto")
    handlers = _ours()
    assert len(handlers) == 1
    assert isinstance(handlers[0], RotatingFileHandler)
    for i in range(30):
        logging.getLogger("app").info("line %d", i)
    wlogs.unconfigure()
    assert (tmp_path / "app.log.1").exists()
    last = orjson.loads(path.read_bytes().splitlines()[-1])
    assert last["message"] == "line 29"
    assert last["service"] == "svc"


def test_service_defaults_to_otel_service_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")
    out = io.StringIO()
    wlogs.configure(format="json", stream=out)
    logging.getLogger("app").warning("x")
    assert orjson.loads(out.getvalue())["service"] == "from-env"


def test_redact_keys_and_truncate_options() -> None:
    out = io.StringIO()
    wlogs.configure(format="json", stream=out, redact_keys=["ssn"], truncate=5)
    logging.getLogger("app").warning("abcdefgh", extra={"ssn": "1", "password": "p"})
    line = orjson.loads(out.getvalue())
    assert line["ssn"] == line["password"] == "[REDACTED]"
    assert line["message"] == "abcde…[truncated 3 chars]"
    wlogs.configure(format="json", stream=out, redact=False)
    out.truncate(0)
    out.seek(0)
    logging.getLogger("app").warning("m", extra={"password": "p"})
    assert orjson.loads(out.getvalue())["password"] == "p"


def test_take_over_routes_a_non_propagating_logger_to_ours() -> None:
    server = logging.getLogger("test.server")
    own = logging.StreamHandler(io.StringIO())
    server.addHandler(own)
    server.propagate = False
    out = io.StringIO()
    try:
        wlogs.configure(format="json", stream=out, take_over=["test.server"])
        server.warning("started")
        assert server.handlers == []
        assert server.propagate
        assert orjson.loads(out.getvalue())["logger"] == "test.server"
    finally:
        server.handlers = []
        server.propagate = True


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"level": "LOUD"}, r"level='LOUD'.*'DEBUG', 'INFO'"),
        ({"format": "xml"}, r"format='xml'.*json, console, auto"),
        ({"max_bytes": -1}, r"max_bytes=-1.*>= 0"),
        ({"backups": "2"}, r"backups='2'.*integer"),
        ({"truncate": 0}, r"truncate=0.*None for no limit"),
        ({"redact_patterns": ["("]}, r"not a valid regular expression"),
    ],
)
def test_bad_options_are_clear_errors(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        wlogs.configure(stream=io.StringIO(), **kwargs)  # type: ignore[arg-type]
    assert _ours() == []


def test_unconfigure_restores_the_root_level() -> None:
    root = logging.getLogger()
    before = root.level
    root.setLevel(logging.ERROR)
    try:
        wlogs.configure(level="DEBUG", format="json", stream=io.StringIO())
        wlogs.configure(level="INFO", format="json", stream=io.StringIO())
        assert root.level == logging.INFO
        wlogs.unconfigure()
        assert root.level == logging.ERROR  # what it was before the first configure()
    finally:
        root.setLevel(before)
