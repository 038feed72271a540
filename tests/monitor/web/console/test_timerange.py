from __future__ import annotations

from urllib.parse import parse_qs

from watchkeeper.monitor.web.console.timerange import RANGES, parse_view

NOW = 1_700_000_123_456


def test_defaults_are_a_live_hour() -> None:
    view = parse_view({}, NOW)
    assert (view.range_key, view.end_ms, view.pinned, view.refresh_s) == ("1h", NOW, False, 30)
    assert view.start_ms == NOW - 3_600_000


def test_bad_values_fall_back_instead_of_failing() -> None:
    view = parse_view({"range": "2y", "refresh": "1ms", "width": "huge", "end": "x"}, NOW)
    assert (view.range_key, view.refresh_key, view.width, view.pinned) == ("1h", "30s", 1000, False)


def test_a_pinned_end_does_not_refresh_and_is_kept_in_the_url() -> None:
    view = parse_view({"range": "6h", "end": "1700000000", "refresh": "10s"}, NOW)
    assert view.pinned
    assert view.end_ms == 1_700_000_000_000
    assert view.refresh_s == 0
    query = parse_qs(view.query(service="orders"))
    assert query == {
        "range": ["6h"],
        "end": ["1700000000"],
        "refresh": ["10s"],
        "service": ["orders"],
    }
    assert "end" not in parse_qs(view.query(live=True))


def test_an_end_in_the_future_is_clamped_to_now() -> None:
    assert parse_view({"end": str(NOW // 1000 + 9999)}, NOW).end_ms == NOW // 1000 * 1000


def test_steps_never_exceed_the_pixels_nor_undercut_the_scrapes() -> None:
    for key, seconds in RANGES.items():
        view = parse_view({"range": key, "width": "1200"}, NOW)
        step = view.step_ms()
        assert seconds * 1000 / step <= 1200
        assert view.step_ms(floor_ms=15_000) >= 15_000
    view = parse_view({"range": "1d"}, NOW)
    start, end = view.aligned(view.step_ms())
    assert end % view.step_ms() == 0
    assert end - start == view.range_ms
    assert end <= NOW


def test_rate_windows_cover_four_scrapes_and_a_step() -> None:
    view = parse_view({}, NOW)
    assert view.rate_window(1000) == "60s"
    assert view.rate_window(300_000) == "300s"
