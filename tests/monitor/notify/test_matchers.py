"""Alertmanager's matcher strings, API matchers, fingerprints and durations."""

from __future__ import annotations

import pytest

from watchkeeper.monitor.model import MatchType
from watchkeeper.monitor.notify.matchers import (
    MatcherError,
    fingerprint,
    format_matcher,
    matcher_from_api,
    parse_duration_ms,
    parse_matcher,
)


@pytest.mark.parametrize(
    ("text", "name", "kind", "value"),
    [
        ('severity="critical"', "severity", MatchType.EQUAL, "critical"),
        ("env!=prod", "env", MatchType.NOT_EQUAL, "prod"),
        ('alertname=~"A|B"', "alertname", MatchType.REGEX, "A|B"),
        ('  job !~ "api.*" ', "job", MatchType.NOT_REGEX, "api.*"),
        (r'msg="say \"hi\"\n"', "msg", MatchType.EQUAL, 'say "hi"\n'),
    ],
)
def test_parse_matcher(text: str, name: str, kind: MatchType, value: str) -> None:
    m = parse_matcher(text)
    assert (m.name, m.type, m.value) == (name, kind, value)
    assert parse_matcher(format_matcher(m)) == m


def test_regexes_are_anchored() -> None:
    m = parse_matcher('alertname=~"High.*"')
    assert m.matches("HighErrorRate")
    assert not m.matches("NotHighErrorRate")


@pytest.mark.parametrize("text", ["severity", '="x"', 'a="b', '1a="x"'])
def test_bad_matchers_are_errors_quoting_them(text: str) -> None:
    with pytest.raises(MatcherError, match="matcher"):
        parse_matcher(text)


def test_api_matchers() -> None:
    m = matcher_from_api({"name": "a", "value": "x.*", "isRegex": True, "isEqual": False}, "m")
    assert m.type is MatchType.NOT_REGEX
    assert matcher_from_api({"name": "a", "value": "x"}, "m").type is MatchType.EQUAL
    with pytest.raises(MatcherError, match="matchers\\[2\\]"):
        matcher_from_api({"name": "", "value": "x"}, "matchers[2]")


def test_fingerprint_is_prometheus_fnv1a() -> None:
    # Prometheus' model.LabelSet{}.Fingerprint() of the empty set is FNV-1a's offset
    # basis; any order of the same labels gives the same fingerprint.
    assert fingerprint(()) == "cbf29ce484222325"
    a = fingerprint((("alertname", "Down"), ("instance", "a")))
    assert a == fingerprint((("instance", "a"), ("alertname", "Down")))
    assert a != fingerprint((("alertname", "Down"), ("instance", "b")))
    assert len(a) == 16


@pytest.mark.parametrize(
    ("text", "ms"),
    [("500ms", 500), ("30s", 30_000), ("1h30m", 5_400_000), ("0", 0), ("1d", 86_400_000)],
)
def test_durations(text: str, ms: int) -> None:
    assert parse_duration_ms(text, "x") == ms


@pytest.mark.parametrize("text", ["", "5", "1x", "m5", "1h 30m"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(MatcherError, match=r"route\.group_wait"):
        parse_duration_ms(text, "route.group_wait")
