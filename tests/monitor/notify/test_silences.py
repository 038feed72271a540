"""Silences: states over time, expiry, persistence across restarts, retention."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from watchkeeper.monitor.notify.silences import (
    RETENTION_MS,
    SilenceError,
    Silences,
    format_time,
    parse_time,
    silence_from_api,
)
from watchkeeper.monitor.notify.store import NotifyStore

T0 = 1_800_000_000_000
H = 3_600_000


def _body(start: int, end: int) -> dict[str, Any]:
    return {
        "matchers": [{"name": "alertname", "value": "Down"}, {"name": "env", "value": "prod"}],
        "startsAt": format_time(start),
        "endsAt": format_time(end),
        "createdBy": "ana",
        "comment": "maintenance",
    }


def test_states_muting_and_persistence(tmp_path: Path) -> None:
    store = NotifyStore(tmp_path)
    try:
        silences = Silences(store)
        s = silences.put(silence_from_api(_body(T0 + H, T0 + 2 * H), T0), T0)
        labels = {"alertname": "Down", "env": "prod", "instance": "a"}
        assert s.state(T0) == "pending"
        assert not s.mutes(labels, T0)
        assert s.mutes(labels, T0 + H)
        assert not s.mutes({"alertname": "Down", "env": "dev"}, T0 + H)
        assert s.state(T0 + 2 * H) == "expired"
        # A restart (a new Silences on the same store) finds it, unchanged.
        again = Silences(store)
        assert again.get(s.id) == s
        assert again.muted_by(labels, T0 + H) == [s.id]
        # Expiring a pending silence ends it before it starts.
        ended = again.expire(s.id, T0 + 60_000)
        assert ended.state(T0 + 60_000) == "expired"
        assert ended.starts_at_ms == ended.ends_at_ms == T0 + 60_000
        with pytest.raises(SilenceError, match="already expired"):
            again.expire(s.id, T0 + 120_000)
        # Expired silences are listed until the retention has passed.
        assert [x.id for x in again.list(T0 + H)] == [s.id]
        assert again.list(T0 + 60_000 + RETENTION_MS + 1) == []
        assert Silences(store).get(s.id) is None
    finally:
        store.close()


def test_times() -> None:
    assert parse_time("2027-01-15T08:00:00Z", "t") == parse_time("2027-01-15T09:00:00+01:00", "t")
    assert format_time(parse_time("2027-01-15T08:00:00.250Z", "t")) == "2027-01-15T08:00:00.25Z"
    with pytest.raises(SilenceError, match="endsAt: 'soon' is not an RFC 3339 time"):
        parse_time("soon", "endsAt")
