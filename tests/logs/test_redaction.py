"""Redaction of every listed key (nested, any case and separator) and every value pattern."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest

from tests.logs.conftest import Sink
from watchkeeper.errors import ConfigurationError
from watchkeeper.logs import DEFAULT_KEYS, DEFAULT_PATTERNS, REDACTED, JSONFormatter, Redactor
from watchkeeper.logs.fields import FieldBuilder
from watchkeeper.logs.redaction import Pattern, luhn_valid

LISTED = ["authorization", "cookie", "set-cookie", "password", "passwd", "secret", "token",
          "api_key", "apikey", "access_key", "private_key"]  # fmt: skip
# A JWT (header.payload.signature) and a Luhn-valid Visa test number.
JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpM"
CARD = "4111 1111 1111 1111"


def clean(value: Any, redactor: Redactor | None = None) -> Any:
    return FieldBuilder(None, redactor or Redactor(), None).clean(value)


def test_every_listed_key_is_a_default() -> None:
    assert set(LISTED) == set(DEFAULT_KEYS)


@pytest.mark.parametrize("key", LISTED)
def test_every_listed_key_is_redacted_in_any_case_nested_in_dicts_and_lists(key: str) -> None:
    redactor = Redactor()
    for variant in (key, key.upper(), key.title(), key.replace("_", "-")):
        assert redactor.is_secret_key(variant), variant
    value = {"outer": {key: "s3cr3t-value", "ok": "visible"}, "items": [{key.upper(): 1}, (key,)]}
    assert clean(value) == {
        "outer": {key: REDACTED, "ok": "visible"},
        "items": [{key.upper(): REDACTED}, [key]],  # a bare string equal to a key is no secret
    }


@pytest.mark.parametrize(
    "key",
    ["x_api_key", "db_password", "dbPassword", "X-Api-Key", "APIKey", "aws_access_key_id",
     "client_secret", "access_token", "tokenValue", "Proxy-Authorization", "HTTP_COOKIE",
     "ssh_private_key", "dbpassword"],
)  # fmt: skip
def test_keys_containing_a_listed_key_are_redacted(key: str) -> None:
    assert Redactor().is_secret_key(key)


@pytest.mark.parametrize(
    "key", ["prompt_tokens", "total_tokens", "user_id", "order_id", "path", "keyboard", "monkey"]
)
def test_ordinary_keys_are_kept(key: str) -> None:
    assert not Redactor().is_secret_key(key)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Bearer abcdefghijklmnop123", REDACTED),
        (
            "authorization was bearer abc.DEF-123_456~xyz== then",
            f"authorization was {REDACTED} then",
        ),
        (JWT, REDACTED),
        (f"token is {JWT}.", f"token is {REDACTED}."),
        (CARD, REDACTED),
        ("4111-1111-1111-1111", REDACTED),
        ("paid with 5555555555554444 today", f"paid with {REDACTED} today"),
        ("378282246310005", REDACTED),  # Amex, 15 digits
        ("password=hunter2 user=bob", f"password={REDACTED} user=bob"),
        ('{"api_key": "abc123xyz"}', f'{{"api_key": "{REDACTED}"}}'),
    ],
)
def test_value_patterns_are_redacted(text: str, expected: str) -> None:
    assert Redactor().text(text) == expected
    assert clean({"note": text}) == {"note": expected}
    assert clean([[text]]) == [[expected]]


@pytest.mark.parametrize(
    "text",
    [
        "4111111111111112",  # fails the Luhn check: an order id, not a card
        "1700000000000",  # epoch milliseconds (cards start with 2-6)
        "order 123456789012345678901234",  # too long a run of digits for a card
        "bearer of bad news",  # too short to be a token
        "2026-11-21T23:48:21Z",
        "a5f1c2d3e4b5a6978812aa34cd56ef78",
    ],
)
def test_lookalikes_are_kept(text: str) -> None:
    assert Redactor().text(text) == text


def test_luhn() -> None:
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4111111111111112")
    assert luhn_valid("79927398713")


def test_card_numbers_as_ints_are_redacted_but_other_big_ints_kept() -> None:
    assert clean({"n": 4111111111111111}) == {"n": REDACTED}
    assert clean({"n": 4111111111111112}) == {"n": 4111111111111112}
    assert clean({"n": 2**70}) == {"n": str(2**70)}  # beyond what JSON numbers hold: text


def test_message_extra_fields_and_exception_message_are_redacted(sink: Sink) -> None:
    try:
        raise ValueError(f"rejected card {CARD} with Bearer abcdefghijklmnop")
    except ValueError:
        sink.logger.exception(
            "login for %s failed with password=%s", "bob", "hunter2",
            extra={"headers": {"Authorization": "Basic Ym9iOmh1bnRlcjI=", "accept": "text/html"},
                   "payload": [{"client_secret": "x", "note": JWT}]},
        )  # fmt: skip
    line = sink.last()
    text = sink.text()
    for secret in ("hunter2", "Ym9iOmh1bnRlcjI=", JWT, CARD, "abcdefghijklmnop"):
        assert secret not in text, secret
    assert line["message"] == f"login for bob failed with password={REDACTED}"
    assert line["headers"] == {"Authorization": REDACTED, "accept": "text/html"}
    assert line["payload"] == [{"client_secret": REDACTED, "note": REDACTED}]
    assert line["exception"]["message"] == f"rejected card {REDACTED} with {REDACTED}"
    assert REDACTED in line["exception"]["stack"]


def test_keys_and_patterns_can_be_added() -> None:
    redactor = Redactor(
        DEFAULT_KEYS | {"ssn"},
        [*DEFAULT_PATTERNS, r"\b\d{3}-\d{2}-\d{4}\b", re.compile("ACME-\\w+")],
    )
    assert clean({"user_ssn": "x", "id": "ssn 078-05-1120 and ACME-KEY1"}, redactor) == {
        "user_ssn": REDACTED,
        "id": f"ssn {REDACTED} and {REDACTED}",
    }


def test_defaults_can_be_removed() -> None:
    redactor = Redactor(DEFAULT_KEYS - {"token"}, [p for p in DEFAULT_PATTERNS if p.name != "card"])
    assert clean({"token": "t", "password": "p", "card": CARD}, redactor) == {
        "token": "t",
        "password": REDACTED,
        "card": CARD,
    }


def test_a_custom_pattern_may_keep_part_of_the_match() -> None:
    keep_last4 = Pattern("iban", r"\bDE\d{20}\b", lambda m: m[:4] + "…" + m[-4:])
    redactor = Redactor(patterns=[*DEFAULT_PATTERNS, keep_last4])
    assert redactor.text("iban DE89370400440532013000") == "iban DE89…3000"


def test_redaction_can_be_turned_off(sink: Sink) -> None:
    sink.handler.setFormatter(JSONFormatter(redact=False))
    sink.logger.info("password=%s", "hunter2", extra={"token": "abc"})
    assert sink.last()["message"] == "password=hunter2"
    assert sink.last()["token"] == "abc"


def test_a_bad_pattern_is_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match=r"pattern #0 '\(unclosed'.*not a valid regular"):
        Redactor(patterns=["(unclosed"])


def test_context_fields_are_redacted(sink: Sink) -> None:
    import watchkeeper.logs as wlogs

    with wlogs.context(session_token="abc", user="bob"):
        sink.logger.log(logging.INFO, "hi")
    assert sink.last()["session_token"] == REDACTED
    assert sink.last()["user"] == "bob"


def test_deep_and_cyclic_values_are_cut_not_recursed_forever() -> None:
    cyclic: dict[str, Any] = {"a": 1}
    cyclic["self"] = cyclic
    out = clean(cyclic)
    depth = 0
    while isinstance(out, dict):
        out = out["self"]
        depth += 1
    assert out == "[too deep]"
    assert depth == 8


_JWT = (
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
)


@pytest.mark.parametrize(
    ("args", "secret"),
    [
        (("4111111111111111",), "4111111111111111"),
        (("4111 1111 1111 1111",), "4111 1111 1111 1111"),
        (("4111-1111-1111-1111",), "4111-1111-1111-1111"),
        (("5500 0000 0000 0004",), "5500 0000 0000 0004"),
        ((f"Bearer {_JWT[:20]}",), _JWT[:20]),
        (("bearer abcdefghijklmnop",), "abcdefghijklmnop"),
        (("BEARER abcdefghijklmnop",), "abcdefghijklmnop"),
        (("auth bEaReR abcdefghijklmnop",), "abcdefghijklmnop"),  # any casing
        ((_JWT,), _JWT),
        (("password=hunter2hunter2",), "hunter2hunter2"),
        (("api_key: sk-live-0123456789",), "sk-live-0123456789"),
    ],
)
def test_secrets_in_messages_are_redacted_on_every_path(args: tuple[str], secret: str) -> None:
    # The message's redaction is inlined in the JSON line path (render through the
    # handler's entry), separate from Redactor.text and from the console's fields:
    # each must catch what the patterns match, in a message formatted from %-args.
    formatter = JSONFormatter()
    record = logging.LogRecord("app", logging.INFO, __file__, 1, "paid with %s ok", args, None)
    line = formatter.render(record)
    assert secret.encode() not in line
    assert REDACTED.encode() in line
    assert secret not in formatter.format(record)
    fields = formatter.fields.from_record(record)
    assert secret not in fields["message"]
    assert REDACTED in fields["message"]
    assert secret not in Redactor().text(f"paid with {args[0]} ok")


def test_a_custom_redactor_is_used_for_the_message_too() -> None:
    redactor = Redactor(patterns=[*DEFAULT_PATTERNS, r"ssn-\d{9}"])
    formatter = JSONFormatter(redact=redactor)
    record = logging.LogRecord(
        "app",
        logging.INFO,
        __file__,
        1,
        "ids %s and %s",
        ("ssn-123456789", "4111111111111111"),
        None,
    )
    line = formatter.render(record)
    assert b"ssn-123456789" not in line
    assert b"4111111111111111" not in line
    assert line.count(REDACTED.encode()) == 2
