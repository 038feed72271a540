"""Backoff: exponential, capped, jittered into [half, full]."""

from __future__ import annotations

from watchkeeper.monitor.notify.delivery import DeliveryOptions, backoff_s


def test_backoff_doubles_up_to_the_cap_with_jitter() -> None:
    options = DeliveryOptions(backoff_initial_s=1.0, backoff_max_s=60.0)
    full = [backoff_s(n, options, lambda: 1.0) for n in range(1, 9)]
    assert full == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
    half = [backoff_s(n, options, lambda: 0.0) for n in range(1, 9)]
    assert half == [d / 2 for d in full]
    # The default gives up after about an hour, not minutes.
    defaults = DeliveryOptions()
    total = sum(backoff_s(n, defaults, lambda: 1.0) for n in range(1, defaults.max_attempts))
    assert 3000 < total < 5000
