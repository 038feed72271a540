"""The JSON line: core fields, extras, context, trace ids, exceptions, odd values."""

from __future__ import annotations

import datetime as dt
import enum
import io
import logging
import math
import time
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from opentelemetry.sdk.trace import TracerProvider

import watchkeeper.logs as wlogs
from tests.logs.conftest import Sink
from watchkeeper.logs import JSONFormatter


def test_core_fields_in_order(sink: Sink) -> None:
    before = time.time()
    sink.logger.warning("order %s placed", 42)
    line = sink.last()
    assert list(line)[:5] == ["timestamp", "level", "logger", "message", "service"]
    assert line["level"] == "warning"
    assert line["logger"] == "test.logs"
    assert line["message"] == "order 42 placed"
    assert line["service"] == "shop"
    # RFC 3339 in UTC with milliseconds, and the right instant
    stamp = line["timestamp"]
    assert stamp.endswith("Z")
    assert len(stamp) == len("2026-01-01T00:00:00.000Z")
    parsed = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    assert parsed.tzinfo == dt.UTC
    assert abs(parsed.timestamp() - before) < 5


def test_timestamps_are_the_records_instant_to_the_millisecond() -> None:
    import random

    from watchkeeper.logs.fields import FieldBuilder

    rng = random.Random(3)
    clocks = [0.0, 0.0009, 0.9999999999999999, 59.9995, 1_763_800_000.999999, -1.25, -0.0005]
    clocks += [rng.uniform(-1e9, 4e9) for _ in range(3_000)]
    builder = FieldBuilder()
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    for created in clocks:
        record = logging.LogRecord("n", 20, "p.py", 1, "m", (), None)
        record.created = created
        stamp = builder.from_record(record)["timestamp"]
        # the second (floored: before 1970 too) and the milliseconds into it
        expected = epoch + dt.timedelta(seconds=math.floor(created))
        ms = int((created - math.floor(created)) * 1000)
        want = expected.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms:03d}Z"
        assert stamp == want, created
        assert builder.timestamp(created) == want, created


def test_every_extra_field_is_a_field(sink: Sink) -> None:
    sink.logger.info("hi", extra={"user_id": 123, "cart": {"items": [1, 2]}, "ok": True, "f": 1.5})
    line = sink.last()
    assert line["user_id"] == 123
    assert line["cart"] == {"items": [1, 2]}
    assert line["ok"] is True
    assert line["f"] == 1.5


def test_extras_never_overwrite_core_fields(sink: Sink) -> None:
    sink.logger.info("real", extra={"level": "fake", "service": "other", "timestamp": 0})
    line = sink.last()
    assert line["level"] == "info"
    assert line["service"] == "shop"
    assert line["field_level"] == "fake"
    assert line["field_service"] == "other"
    assert line["field_timestamp"] == 0


def test_exception_is_a_structured_field(sink: Sink) -> None:
    class PaymentError(Exception):
        pass

    def charge() -> None:
        raise PaymentError("card declined")

    try:
        charge()
    except PaymentError:
        sink.logger.exception("charge failed")
    exc = sink.last()["exception"]
    assert exc["type"].endswith("PaymentError")
    assert exc["type"].startswith("tests.logs.test_json_format.")
    assert exc["message"] == "card declined"
    assert exc["stack"].startswith("Traceback (most recent call last):")
    assert "in charge" in exc["stack"]
    assert sink.last()["level"] == "error"


def test_chained_exceptions_keep_the_cause_in_the_stack(sink: Sink) -> None:
    try:
        try:
            empty: dict[str, int] = {}
            empty["missing"] += 1
        except KeyError as cause:
            raise RuntimeError("lookup failed") from cause
    except RuntimeError as exc:
        sink.logger.error("failed", exc_info=exc)
    line = sink.last()["exception"]
    assert line["type"] == "RuntimeError"
    assert "KeyError: 'missing'" in line["stack"]


def test_stack_info_is_a_field(sink: Sink) -> None:
    sink.logger.info("where", stack_info=True)
    assert "test_stack_info_is_a_field" in sink.last()["stack_info"]


def test_odd_values_are_written(sink: Sink) -> None:
    class Colour(enum.Enum):
        RED = "red"

    @dataclass
    class Login:
        user: str
        password: str

    class Opaque:
        def __str__(self) -> str:
            return "opaque with Bearer abcdefghijklmnopqrst"

    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    ident = uuid.UUID(int=1)
    extra: dict[object, object] = {
        "when": when, "id": ident, "colour": Colour.RED, "login": Login("bob", "pw"),
        "tags": {"a"}, "obj": Opaque(), 7: "int key",
    }  # fmt: skip
    sink.logger.info("odd", extra=extra)  # type: ignore[arg-type]  # a non-str key, on purpose
    line = sink.last()
    assert line["when"] == "2026-01-02T03:04:05+00:00"
    assert line["id"] == str(ident)
    assert line["colour"] == "red"
    assert line["login"] == {"user": "bob", "password": "[REDACTED]"}
    assert line["tags"] == ["a"]
    assert line["obj"] == "opaque with [REDACTED]"
    assert line["7"] == "int key"


def test_a_bad_format_string_keeps_the_line(sink: Sink) -> None:
    # straight to our handler: pytest's own capture handler would raise on this record
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%d items", ("many",), None)
    sink.handler.handle(record)
    assert sink.last()["message"] == "%d items ('many',)"


def test_long_message_and_values_are_truncated(sink: Sink) -> None:
    sink.handler.setFormatter(JSONFormatter(truncate=10))
    sink.logger.info("m" * 25, extra={"body": "b" * 12, "short": "s" * 10})
    line = sink.last()
    assert line["message"] == "m" * 10 + "…[truncated 15 chars]"
    assert line["body"] == "b" * 10 + "…[truncated 2 chars]"
    assert line["short"] == "s" * 10


def test_truncation_default_is_1000(sink: Sink) -> None:
    sink.logger.info("x", extra={"body": "b" * 1500})
    assert sink.last()["body"] == "b" * 1000 + "…[truncated 500 chars]"


def test_context_fields_come_after_service(sink: Sink) -> None:
    with wlogs.context(job="nightly"):
        sink.logger.info("run", extra={"n": 1})
    assert list(sink.last())[4:7] == ["service", "job", "n"]


def test_trace_ids_of_the_active_span(sink: Sink) -> None:
    provider = TracerProvider()
    tracer = provider.get_tracer("test")
    sink.logger.info("outside")
    with tracer.start_as_current_span("work") as span:
        sink.logger.info("inside")
        ctx = span.get_span_context()
    outside, inside = sink.lines()
    assert "trace_id" not in outside
    assert "span_id" not in outside
    assert inside["trace_id"] == format(ctx.trace_id, "032x")
    assert inside["span_id"] == format(ctx.span_id, "016x")
    assert len(inside["trace_id"]) == 32
    assert len(inside["span_id"]) == 16
    provider.shutdown()


def test_format_returns_the_line_without_newline() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", (), None)
    text = JSONFormatter().format(record)
    assert text.startswith("{")
    assert text.endswith("}")
    assert '"message":"hello"' in text


def test_timestamp_of_a_known_instant() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", (), None)
    record.created = 1_700_000_000.5
    assert JSONFormatter().fields.from_record(record)["timestamp"] == "2023-11-14T22:13:20.500Z"
    record.created = 1_700_000_059.9996
    assert JSONFormatter().fields.from_record(record)["timestamp"] == "2023-11-14T22:14:19.999Z"


def test_a_record_that_cannot_be_rendered_still_gives_a_line(sink: Sink) -> None:
    class BadKey:
        def __str__(self) -> str:
            raise RuntimeError("no text for you")

    sink.logger.info("kept %s", "anyway", extra={"d": {BadKey(): 1}})
    line = sink.last()
    assert line["message"] == "kept %s"  # the unformatted message: nothing is trusted
    assert line["level"] == "info"
    assert "no text for you" in line["log_error"]


def test_pydantic_models_are_objects_with_their_secrets_redacted(sink: Sink) -> None:
    import pydantic

    class Signup(pydantic.BaseModel):
        email: str
        password: str

    sink.logger.info("signup", extra={"form": Signup(email="a@b.c", password="pw")})
    assert sink.last()["form"] == {"email": "a@b.c", "password": "[REDACTED]"}


class _TaggedRecord(logging.LogRecord):
    """A record class that sets an attribute of its own after LogRecord's."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tag = "from-the-subclass"


def test_a_record_subclass_keeps_its_extras_in_order() -> None:
    record = _TaggedRecord("x", logging.INFO, __file__, 1, "%s done", ("job",), None)
    record.__dict__.update({"b_first": 1, "password": "hunter2", "level": "forged"})
    line = orjson.loads(JSONFormatter().render(record))
    assert line["message"] == "job done"
    assert list(line)[-4:] == ["tag", "b_first", "password", "field_level"]
    assert line["password"] == "[REDACTED]"
    assert line["level"] == "info"


def test_plain_record_extras_keep_order_and_redaction() -> None:
    record = logging.getLogger("x").makeRecord(
        "x", logging.INFO, __file__, 1, "done", (), None,
        extra={"b_first": 1, "password": "hunter2", "level": "forged", "note": "n" * 2000},
    )  # fmt: skip
    line = orjson.loads(JSONFormatter(truncate=100).render(record))
    assert list(line)[-4:] == ["b_first", "password", "field_level", "note"]
    assert line["password"] == "[REDACTED]"
    assert line["level"] == "info"
    assert len(line["note"]) < 200


class _Upper(JSONFormatter):
    def render(self, record: logging.LogRecord) -> bytes:
        return super().render(record).upper()


def test_a_subclass_render_is_what_handlers_call() -> None:
    stream = io.BytesIO()
    logger = logging.getLogger("test.upper")
    logger.handlers = [wlogs.LineHandler(stream, _Upper())]
    logger.propagate = False
    logger.warning("quiet please")
    assert b'"MESSAGE":"QUIET PLEASE"' in stream.getvalue()
