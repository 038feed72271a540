"""The operation and table read from SQL text (pure; no database)."""

from __future__ import annotations

import pytest

from watchkeeper.instrument.db_statement import classify, first_keyword


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ("SELECT 1", ("select", "")),
        ("select id, name from users where id = %(id)s", ("select", "users")),
        ('SELECT * FROM "Order Items" WHERE x = $1', ("select", "Order Items")),
        ("SELECT a FROM public.accounts a JOIN b ON true", ("select", "public.accounts")),
        ("SELECT * FROM ONLY parents", ("select", "parents")),
        ("SELECT * FROM (SELECT id FROM inner_t) s", ("select", "inner_t")),
        ("SELECT * FROM generate_series(1, 3)", ("select", "")),
        ("INSERT INTO orders (id) VALUES (%s)", ("insert", "orders")),
        ("  insert\ninto  audit.log VALUES ($1)", ("insert", "audit.log")),
        ("UPDATE users SET name = $1 WHERE id = $2", ("update", "users")),
        ("UPDATE ONLY users SET a = 1", ("update", "users")),
        ("DELETE FROM sessions WHERE expires < now()", ("delete", "sessions")),
        ("/* controller=cart */ SELECT * FROM carts", ("select", "carts")),
        ("-- a comment\nDELETE FROM t", ("delete", "t")),
        ("WITH x AS (SELECT 1) SELECT * FROM x", ("other", "")),
        ("BEGIN", ("other", "")),
        ("CREATE TABLE t (id int)", ("other", "")),
        ("", ("other", "")),
        ("   ", ("other", "")),
        ("SELECT * FROM " + "a" * 80, ("select", "")),
    ],
)
def test_classify(statement: str, expected: tuple[str, str]) -> None:
    assert classify(statement) == expected


def test_first_keyword_skips_comments_and_case() -> None:
    assert first_keyword("/* a */ /* b */ -- c\n  SeLeCt 1") == "select"
    assert first_keyword("/* unterminated") == ""


def test_memo_stays_bounded() -> None:
    from watchkeeper.instrument import db_statement

    for i in range(db_statement._MEMO_SIZE * 2 + 7):
        assert classify(f"SELECT {i} FROM t{i}") == ("select", f"t{i}")
    assert len(db_statement._memo) <= db_statement._MEMO_SIZE
