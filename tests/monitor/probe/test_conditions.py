"""Parsing Gatus-style conditions: what each part becomes, and errors that say where."""

from __future__ import annotations

import pytest

from watchkeeper.monitor.probe.conditions import ConditionError, parse_condition


def test_the_issue_examples() -> None:
    status = parse_condition("[STATUS] == 200")
    assert (status.placeholder, status.operator, status.right.number) == ("STATUS", "==", 200.0)
    latency = parse_condition("[RESPONSE_TIME] < 300ms")
    assert (latency.placeholder, latency.operator, latency.right.number) == (
        "RESPONSE_TIME",
        "<",
        300.0,
    )
    body = parse_condition('[BODY].status == "healthy"')
    assert (body.placeholder, body.path, body.right.kind, body.right.text) == (
        "BODY",
        ("status",),
        "string",
        "healthy",
    )


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("[CERTIFICATE_EXPIRATION] > 48h", 48 * 3600 * 1000),
        ("[CERTIFICATE_EXPIRATION] > 7d", 7 * 86400 * 1000),
        ("[RESPONSE_TIME] <= 1.5s", 1500),
        ("[RESPONSE_TIME] < 250", 250),  # a bare number is milliseconds, as in Gatus
    ],
)
def test_durations_become_milliseconds(text: str, ms: float) -> None:
    assert parse_condition(text).right.number == ms


def test_json_paths_functions_and_literals() -> None:
    nested = parse_condition("[BODY].data[1].id == any(1, 2)")
    assert nested.path == ("data", 1, "id")
    assert [c.number for c in nested.right.choices] == [1.0, 2.0]
    assert parse_condition("len([BODY].items) > 0").function == "len"
    has = parse_condition("has([BODY].errors) == false")
    assert (has.function, has.right.kind) == ("has", "bool")
    assert parse_condition("[BODY] == pat(*ok*)").right.kind == "pattern"
    assert parse_condition("[BODY].status == UP").right.text == "UP"  # bare text, as Gatus
    assert parse_condition("[CONNECTED] == true").right.kind == "bool"
    # Operators inside a quoted value do not split the condition.
    assert parse_condition('[BODY].expr == "a >= b"').right.text == "a >= b"


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        ("[STATUS] = 200", "(column 10)", "'=' is not an operator"),
        ("[STATUS] 200", "(column 1)", "no comparison operator"),
        ("[STATU] == 200", "(column 1)", "unknown placeholder [STATU]"),
        ("STATUS == 200", "(column 1)", "the left side 'STATUS' is not a placeholder"),
        ("[STATUS] == ok", "(column 13)", "[STATUS] is a number, but 'ok' is not"),
        ("[STATUS] == 2h", "(column 13)", "a duration (2h) compares only with"),
        ("[BODY].a..b == 1", "(column 9)", "bad JSON path '..b'"),
        ("[STATUS].code == 1", "(column 1)", "[STATUS] has no fields"),
        ("[CONNECTED] == yes", "(column 16)", "[CONNECTED] is true or false"),
        ("[STATUS] ==", "(column 12)", "nothing to compare with"),
        ('[BODY] < "a"', "(column 8)", "< compares numbers only"),
        ("[STATUS] > any(200, 201)", "(column 10)", "> does not work with pat() or any()"),
        ("len([STATUS]) > 1", "(column 5)", "len() applies to [BODY] only"),
    ],
)
def test_errors_name_the_condition_the_column_and_the_fix(
    text: str, where: str, problem: str
) -> None:
    with pytest.raises(ConditionError) as info:
        parse_condition(text)
    message = str(info.value)
    assert message.startswith(f"condition {text!r} {where}: ")
    assert problem in message
    assert "; " in message.partition(problem)[2]  # a fix follows the problem


def test_overlong_conditions_are_refused() -> None:
    with pytest.raises(ConditionError, match="longer than 1000 characters"):
        parse_condition("[BODY] == " + "x" * 1000)
