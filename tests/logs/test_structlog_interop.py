"""structlog apps get the same fields and redaction, in both shapes."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import structlog

import watchkeeper.logs as wlogs
from watchkeeper.logs.binding import begin_request, end_request


@pytest.fixture(autouse=True)
def _reset_structlog() -> Iterator[None]:
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def _stdlib_lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in out.getvalue().splitlines()]


def _same_shape(line: dict[str, Any]) -> None:
    assert list(line)[:5] == ["timestamp", "level", "logger", "message", "service"]
    assert line["timestamp"].endswith("Z")


def test_structlog_through_stdlib_gets_our_fields_and_redaction() -> None:
    out = io.StringIO()
    wlogs.configure(format="json", stream=out, service="shop", structlog=True)
    log = structlog.get_logger("shop.orders")
    _, token = begin_request("req-9")
    try:
        structlog.contextvars.bind_contextvars(tenant="acme")
        wlogs.bind(user_id=5)
        log.info("order placed", order_id="A-1", password="hunter2", name="shadows LogRecord.name")
        logging.getLogger("shop.db").info("plain stdlib line")
        try:
            raise ValueError("no stock")
        except ValueError:
            log.exception("failed", card="4111 1111 1111 1111")
    finally:
        end_request(token)
    placed, plain, failed = _stdlib_lines(out)
    _same_shape(placed)
    assert placed["level"] == "info"
    assert placed["logger"] == "shop.orders"
    assert placed["message"] == "order placed"
    assert placed["service"] == "shop"
    assert placed["request_id"] == plain["request_id"] == failed["request_id"] == "req-9"
    assert placed["user_id"] == 5
    assert placed["tenant"] == "acme"
    assert placed["order_id"] == "A-1"
    assert placed["password"] == "[REDACTED]"
    assert placed["name"] == "shadows LogRecord.name"
    assert set(plain) - {"tenant"} <= set(placed)  # stdlib and structlog lines alike
    assert failed["level"] == "error"
    assert failed["card"] == "[REDACTED]"
    assert failed["exception"]["type"] == "ValueError"
    assert "no stock" in failed["exception"]["stack"]


def test_structlog_native_renders_the_same_line() -> None:
    out = io.StringIO()
    wlogs.configure(format="json", stream=out, service="shop")
    buffer = io.BytesIO()
    structlog.configure(
        processors=wlogs.structlog_processors(),
        logger_factory=structlog.BytesLoggerFactory(buffer),
        cache_logger_on_first_use=False,
    )
    log = structlog.get_logger()
    _, token = begin_request("req-native")
    try:
        structlog.contextvars.bind_contextvars(tenant="acme")
        log.warning("order placed", logger="shop.orders", order_id="A-1", api_key="k")
        logging.getLogger("shop.orders").warning(
            "order placed", extra={"tenant": "acme", "order_id": "A-1", "api_key": "k"}
        )
        try:
            raise KeyError("sku")
        except KeyError:
            log.exception("failed", logger="shop.orders")
    finally:
        end_request(token)
    native, failed = (orjson.loads(line) for line in buffer.getvalue().splitlines())
    (stdlib,) = _stdlib_lines(out)
    _same_shape(native)
    # the same fields, values and order; only the instant differs
    native.pop("timestamp")
    stdlib.pop("timestamp")
    assert native == stdlib
    assert native["api_key"] == "[REDACTED]"
    assert native["request_id"] == "req-native"
    assert failed["level"] == "error"
    assert failed["exception"]["type"] == "KeyError"
    assert "KeyError: 'sku'" in failed["exception"]["stack"]
