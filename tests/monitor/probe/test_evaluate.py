"""Judging conditions against observations: results and the value each one saw."""

from __future__ import annotations

import pytest

from watchkeeper.monitor.probe.conditions import parse_condition
from watchkeeper.monitor.probe.evaluate import Observation, evaluate

BODY = b'{"status": "healthy", "items": [{"id": 1}, {"id": 2}], "ok": true, "n": "7"}'


def _seen(status: int | None = 200, body: bytes | None = BODY, **kw: float) -> Observation:
    return Observation(
        connected=status is not None,
        response_time_ms=kw.get("ms", 120.0),
        now=1_000_000.0,
        status=status,
        body=body,
        cert_not_after=kw.get("cert"),
    )


@pytest.mark.parametrize(
    ("condition", "success", "detail"),
    [
        ("[STATUS] == 200", True, "[STATUS] (200) == 200"),
        ("[STATUS] == any(201, 204)", False, "[STATUS] (200) == any(201, 204)"),
        ("[STATUS] < 300", True, "[STATUS] (200) < 300"),
        ("[RESPONSE_TIME] < 300ms", True, "[RESPONSE_TIME] (120) < 300ms"),
        ("[RESPONSE_TIME] < 0.1s", False, "[RESPONSE_TIME] (120) < 0.1s"),
        ('[BODY].status == "healthy"', True, '[BODY].status (healthy) == "healthy"'),
        ("[BODY].status != healthy", False, "[BODY].status (healthy) != healthy"),
        ("[BODY].items[1].id == 2", True, "[BODY].items[1].id (2) == 2"),
        ("[BODY].n > 5", True, "[BODY].n (7) > 5"),  # numeric text compares as a number
        ("[BODY].ok == true", True, "[BODY].ok (true) == true"),
        ("len([BODY].items) == 2", True, "len([BODY].items) (2) == 2"),
        ("has([BODY].items) == true", True, "has([BODY].items) (true) == true"),
        ("has([BODY].errors) == false", True, "has([BODY].errors) (false) == false"),
        ("[BODY] == pat(*healthy*)", True, None),
        ("[BODY].status == pat(heal*)", True, "[BODY].status (healthy) == pat(heal*)"),
        ("[BODY].missing == 1", False, "[BODY].missing (no such field) == 1"),
        ("[BODY].items[5].id == 1", False, "[BODY].items[5].id (no such field) == 1"),
        ("[CONNECTED] == true", True, "[CONNECTED] (true) == true"),
        ("[CERTIFICATE_EXPIRATION] > 1h", False, "[CERTIFICATE_EXPIRATION] (no certificate) > 1h"),
    ],
)
def test_results_say_what_was_seen(condition: str, success: bool, detail: str | None) -> None:
    result = evaluate(parse_condition(condition), _seen())
    assert (result.condition, result.success) == (condition, success)
    if detail is not None:
        assert result.detail == detail


def test_no_response_fails_status_conditions() -> None:
    result = evaluate(parse_condition("[STATUS] == 200"), _seen(status=None, body=None))
    assert (result.success, result.detail) == (False, "[STATUS] (no response) == 200")
    connected = evaluate(parse_condition("[CONNECTED] == true"), _seen(status=None, body=None))
    assert not connected.success


def test_a_body_that_is_not_json() -> None:
    result = evaluate(parse_condition("[BODY].status == ok"), _seen(body=b"<html>ok</html>"))
    assert (result.success, result.detail) == (False, "[BODY].status (body is not JSON) == ok")
    whole = evaluate(parse_condition("[BODY] == pat(*ok*)"), _seen(body=b"<html>ok</html>"))
    assert whole.success


def test_certificate_expiration_is_milliseconds_left() -> None:
    in_three_days = 1_000_000.0 + 3 * 86400
    seen = _seen(cert=in_three_days)
    assert evaluate(parse_condition("[CERTIFICATE_EXPIRATION] > 48h"), seen).success
    short = evaluate(parse_condition("[CERTIFICATE_EXPIRATION] > 96h"), seen)
    assert (short.success, short.detail) == (False, "[CERTIFICATE_EXPIRATION] (259200000) > 96h")


def test_long_values_are_truncated_in_the_detail() -> None:
    body = b'{"s": "' + b"x" * 500 + b'"}'
    result = evaluate(parse_condition("[BODY].s == y"), _seen(body=body))
    assert not result.success
    assert len(result.detail) < 120
    assert "..." in result.detail
