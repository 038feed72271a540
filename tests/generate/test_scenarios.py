"""The generated test scenarios themselves: thresholds nudged just past, the hold
checked before and after, and the burn windows' expected sets."""

from __future__ import annotations

from decimal import Decimal

import pytest

from watchkeeper.generate import build_rule_groups
from watchkeeper.generate.promql import render_template
from watchkeeper.generate.scenarios import nudge
from watchkeeper.spec import SLO_ALERT, load_spec_text


@pytest.mark.parametrize(
    ("threshold", "up", "expected"),
    [
        ("0.0144", True, "0.01442"),
        ("0.0144", False, "0.01438"),
        ("0.8", False, "0.7992"),
        ("10000", True, "10010"),
        ("0.00933333333333333", True, "0.009343"),
        ("1", True, "1.001"),
    ],
)
def test_nudge_is_just_past_with_four_digits(threshold: str, up: bool, expected: str) -> None:
    assert nudge(Decimal(threshold), up) == Decimal(expected)


def test_render_template_matches_prometheus_formatting() -> None:
    text = '{{ $labels.quota }}: {{ $value | humanizePercentage }} / {{ $value | printf "%.4g" }}'
    assert render_template(text, {"quota": "q"}, 0.0146) == "q: 1.46% / 0.0146"


def test_page_tier_scenarios_expect_exactly_the_windows_crossed() -> None:
    spec = load_spec_text(
        "service: a\nslos: [{name: x, objective: 99.9, sli: {kind: availability}}]\n"
    )
    alerts = [a for g in build_rule_groups(spec) for a in g.alerts if a.name == SLO_ALERT]
    page_1h = next(a for a in alerts if a.labels["long_window"] == "1h")
    above, below = page_1h.scenarios
    assert "0.01442 just above" in above.name
    (before, none), (after, fired) = above.checks
    assert (before, none) == (120, ())  # 1m for the second sample + 2m hold - 1m
    assert after == 180
    assert sorted(e.labels["long_window"] for e in fired) == ["1h", "6h"]  # 1.442% > 1.44%, > 0.6%
    ((_, below_fired),) = below.checks
    assert [e.labels["long_window"] for e in below_fired] == ["6h"]  # 1.438%: not the 14.4x page
