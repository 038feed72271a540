"""Burn-rate factors are derived exactly from the window; durations round-trip."""

from __future__ import annotations

from fractions import Fraction

import pytest

from watchkeeper.spec import Duration, load_spec_text, parse_duration
from watchkeeper.spec.slo import DEFAULT_BURN_WINDOWS


@pytest.mark.parametrize(
    ("period", "factors"),
    [
        ("30d", ["72/5", "6", "3", "1"]),  # the SRE workbook's 14.4, 6, 3, 1
        ("28d", ["336/25", "28/5", "14/5", "14/15"]),  # 13.44, 5.6, 2.8, 0.933...
    ],
)
def test_default_factors_follow_the_period(period: str, factors: list[str]) -> None:
    got = [w.exact_factor(parse_duration(period)) for w in DEFAULT_BURN_WINDOWS]
    assert got == [Fraction(f) for f in factors]


def test_objective_is_an_exact_decimal() -> None:
    spec = load_spec_text(
        "service: shop\nslos: [{name: a, objective: 99.9, sli: {kind: availability}}]\n"
    )
    assert spec.slos[0].budget == Fraction(1, 1000)


@pytest.mark.parametrize(
    ("text", "seconds", "canonical"),
    [("5m", 300, "5m"), ("1h30m", 5400, "1h30m"), ("90m", 5400, "1h30m"), ("30d", 2592000, "30d"),
     ("1w", 604800, "7d"), ("0s", 0, "0s")],
)  # fmt: skip
def test_durations(text: str, seconds: int, canonical: str) -> None:
    assert parse_duration(text) == Duration(seconds)
    assert str(Duration(seconds)) == canonical


@pytest.mark.parametrize("bad", ["", "5", "5 m", "1.5h", "-1m", 5])
def test_bad_durations(bad: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)
