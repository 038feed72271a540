from __future__ import annotations

import pytest

from watchkeeper.monitor.notify.silences import parse_time
from watchkeeper.monitor.web.console.alerts import matchers_text, silence_body

NOW = 1_700_000_000_000


def test_matchers_suggested_from_an_alerts_identifying_labels() -> None:
    labels = {"alertname": "HighErrorRate", "service": "orders", "team": "x", "slo": 'a"b'}
    assert matchers_text(labels).splitlines() == [
        'alertname="HighErrorRate"',
        'service="orders"',
        'slo="a\\"b"',
    ]


def test_silence_body_from_the_form() -> None:
    body = silence_body('alertname="A"\nenv=~"prod|stage",\nteam!="x"', "90m", "ana", "fix", NOW)
    assert body["matchers"] == [
        {"name": "alertname", "value": "A", "isRegex": False, "isEqual": True},
        {"name": "env", "value": "prod|stage", "isRegex": True, "isEqual": True},
        {"name": "team", "value": "x", "isRegex": False, "isEqual": False},
    ]
    assert parse_time(body["endsAt"], "endsAt") - parse_time(body["startsAt"], "s") == 90 * 60_000
    assert (body["createdBy"], body["comment"]) == ("ana", "fix")


@pytest.mark.parametrize(
    ("matchers", "duration", "message"),
    [
        ("", "1h", "matchers: give at least one"),
        ("alertname", "1h", "matchers line 1"),
        ('alertname="A"', "soon", "duration: 'soon' is not a duration"),
        ('alertname="A"', "365d", "between 1s and 90d"),
    ],
)
def test_bad_forms_say_which_field(matchers: str, duration: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        silence_body(matchers, duration, "a", "c", NOW)
