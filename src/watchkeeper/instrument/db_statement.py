"""What a SQL statement does, cheaply: its operation and, when obvious, its table.

The database metrics label each query with ``db_operation_name`` (``select``,
``insert``, ``update``, ``delete`` or ``other``) and ``db_collection_name`` (the
first table the statement names, empty when it is not obvious). This is not a SQL
parser: a few anchored regular expressions read the statement's first keyword and
the table after ``FROM``/``INTO``/``UPDATE``, and the answer is memoised per
statement text (SQLAlchemy's compiled cache hands the same strings over and over),
so the hot path is one dict lookup.
"""

from __future__ import annotations

import re

__all__ = ["OPERATIONS", "OTHER", "classify", "first_keyword"]

OPERATIONS = frozenset({"select", "insert", "update", "delete"})
OTHER = "other"
_MAX_TABLE_CHARS = 63  # PostgreSQL's identifier limit; longer is not a table name
_MEMO_SIZE = 2048

# Leading whitespace, `-- line` and `/* block */` comments (ORMs and sqlcommenter
# prepend comments; the operation is the first word after them).
_LEADING = re.compile(r"\A(?:\s+|--[^\n]*(?:\n|\Z)|/\*.*?\*/)*", re.S)
_WORD = re.compile(r"[A-Za-z]+")
_IDENT = r'(?:"[^"]{1,63}"|[A-Za-z_][A-Za-z0-9_$]*)'
_QUALIFIED = rf"({_IDENT}(?:\s*\.\s*{_IDENT})?)"
_TABLE = {
    "select": re.compile(rf"\bfrom\s+(?:only\s+)?{_QUALIFIED}", re.I),
    "insert": re.compile(rf"\A\s*insert\s+into\s+{_QUALIFIED}", re.I),
    "update": re.compile(rf"\A\s*update\s+(?:only\s+)?{_QUALIFIED}", re.I),
    "delete": re.compile(rf"\A\s*delete\s+from\s+(?:only\s+)?{_QUALIFIED}", re.I),
}
# Words that follow FROM but are not tables (`SELECT ... FROM LATERAL`, `FROM unnest(`).
_NOT_TABLES = frozenset({"lateral", "select", "unnest", "generate_series", "json_each"})

_memo: dict[str, tuple[str, str]] = {}


def first_keyword(statement: str) -> str:
    """The statement's first word in lower case, after comments (``""`` if none)."""
    start = _LEADING.match(statement)
    match = _WORD.match(statement, start.end() if start else 0)
    return match.group(0).lower() if match else ""


def _table(operation: str, body: str) -> str:
    match = _TABLE[operation].search(body)
    if match is None:
        return ""
    name = re.sub(r"\s*\.\s*", ".", match.group(1)).replace('"', "")
    if len(name) > _MAX_TABLE_CHARS or name.lower() in _NOT_TABLES:
        return ""
    # A FROM followed by "(" is a function call or subquery, not a table.
    rest = body[match.end() : match.end() + 1]
    if rest == "(":
        return ""
    return name


def _classify(statement: str) -> tuple[str, str]:
    start = _LEADING.match(statement)
    body = statement[start.end() if start else 0 :]
    keyword = first_keyword(body)
    if keyword not in OPERATIONS:
        return OTHER, ""
    return keyword, _table(keyword, body)


def classify(statement: str) -> tuple[str, str]:
    """``(operation, table)`` of a SQL statement; ``table`` is ``""`` when not obvious.

    >>> classify("SELECT id FROM users WHERE id = %(id)s")
    ('select', 'users')
    >>> classify("/* app */ insert into public.orders (id) values ($1)")
    ('insert', 'public.orders')
    >>> classify("SELECT 1")
    ('select', '')
    """
    found = _memo.get(statement)
    if found is not None:
        return found
    found = _classify(statement)
    if len(_memo) >= _MEMO_SIZE:
        # Statements built with inlined literals never repeat: start over rather than
        # grow without bound (the common statements come back within one request).
        _memo.clear()
    _memo[statement] = found
    return found
