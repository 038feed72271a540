"""Time, duration and selector parameters parse as in Prometheus' API."""

from __future__ import annotations

import pytest

from watchkeeper.monitor.model import Matcher, MatchType
from watchkeeper.monitor.web.params import (
    MAX_TIME_MS,
    MIN_TIME_MS,
    ParamError,
    parse_duration_ms,
    parse_matchers,
    parse_time_ms,
)


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("1435781451.781", 1_435_781_451_781),
        ("1435781451", 1_435_781_451_000),
        ("2015-07-01T20:10:51.781Z", 1_435_781_451_781),
        ("2015-07-01T22:10:51.781+02:00", 1_435_781_451_781),
        ("-292273086-05-16T16:47:06Z", MIN_TIME_MS),
        ("292277025-08-18T07:12:54.999999999Z", MAX_TIME_MS),
    ],
)
def test_parse_time(text: str, ms: int) -> None:
    assert parse_time_ms(text, "time") == ms


@pytest.mark.parametrize("text", ["", "yesterday", "2015-07-01T20:10:51", "NaN"])
def test_parse_time_rejects(text: str) -> None:
    with pytest.raises(ParamError, match=r'invalid parameter "time": cannot parse'):
        parse_time_ms(text, "time")


@pytest.mark.parametrize(
    ("text", "ms"),
    [("15", 15_000), ("0.5", 500), ("5m", 300_000), ("1h30m", 5_400_000), ("2d", 172_800_000)],
)
def test_parse_duration(text: str, ms: int) -> None:
    assert parse_duration_ms(text, "step") == ms


@pytest.mark.parametrize("text", ["", "5x", "m5", "1e300"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ParamError, match=r'invalid parameter "step": cannot parse'):
        parse_duration_ms(text, "step")


def test_parse_matchers() -> None:
    assert parse_matchers('up{job=~"a.*", env!="dev"}') == [
        Matcher.of("__name__", MatchType.EQUAL, "up"),
        Matcher.of("job", MatchType.REGEX, "a.*"),
        Matcher.of("env", MatchType.NOT_EQUAL, "dev"),
    ]


@pytest.mark.parametrize("text", ["up{", "{}", "rate(up[5m])"])
def test_parse_matchers_rejects(text: str) -> None:
    with pytest.raises(ParamError, match=r'invalid parameter "match\[\]"'):
        parse_matchers(text)
