from __future__ import annotations

from watchkeeper.logs.truncation import truncate


def test_short_text_is_unchanged() -> None:
    assert truncate("abc", 3) == "abc"


def test_long_text_is_cut_with_a_marker_counting_what_was_cut() -> None:
    text = "x" * 3345
    cut = truncate(text, 1000)
    assert cut == "x" * 1000 + "…[truncated 2345 chars]"


def test_no_limit_keeps_everything() -> None:
    text = "y" * 5000
    assert truncate(text, None) == text
    assert truncate(text, 0) == text
