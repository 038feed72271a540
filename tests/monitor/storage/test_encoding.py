"""The group codec is lossless bit for bit, whatever the values."""

from __future__ import annotations

import numpy as np
import pytest

from watchkeeper.monitor.model import STALE_NAN
from watchkeeper.monitor.storage.encoding import decode_group, encode_group


def _roundtrip(t: np.ndarray, v: np.ndarray) -> int:
    payload = encode_group(t, v)
    t2, v2 = decode_group(payload)
    np.testing.assert_array_equal(t2, t)
    assert v2.shape == v.shape
    assert (v2.view(np.uint64) == v.view(np.uint64)).all()
    return len(payload)


def _times(rng: np.random.Generator, n: int) -> np.ndarray:
    jitter = rng.integers(-20, 20, n)
    return (1_700_000_000_000 + np.arange(n) * 15_000 + jitter).astype(np.int64)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 120, 1000])
def test_every_kind_of_value_roundtrips(n: int) -> None:
    rng = np.random.default_rng(n)
    rows = [
        np.cumsum(rng.poisson(3, n)).astype(np.float64),  # counter
        rng.random(n),  # arbitrary floats: xor mode
        np.round(rng.random(n) * 100, 2),  # decimal gauge: scaled integers
        np.zeros(n),
        np.full(n, STALE_NAN),
        -np.zeros(n),  # -0.0 must keep its sign bit
        np.full(n, 1e300),
        np.cumsum(rng.poisson(300, n)) / 100,  # CPU seconds in ticks
        np.full(n, np.inf),
        np.full(n, -np.inf),
        np.full(n, np.nan),
        rng.integers(-(2**62), 2**62, n).astype(np.float64),  # huge ints: overflowing diffs
    ]
    v = np.vstack(rows)
    v[0, n // 2] = STALE_NAN  # a patch inside an integer row
    _roundtrip(_times(rng, n), v)


def test_random_bit_patterns_roundtrip() -> None:
    rng = np.random.default_rng(7)
    bits = rng.integers(0, 2**63, (20, 300), dtype=np.int64).view(np.uint64)
    bits[::3] |= np.uint64(1 << 63)
    _roundtrip(_times(rng, 300), bits.view(np.float64))


def test_irregular_and_negative_timestamps_roundtrip() -> None:
    t = np.array([-5_000, -1, 0, 3, 10**12, 10**12 + 1, 2**62], dtype=np.int64)
    _roundtrip(t, np.arange(7, dtype=np.float64).reshape(1, 7))


def test_counters_with_shared_timestamps_are_small() -> None:
    rng = np.random.default_rng(3)
    n = 480
    counters = np.cumsum(rng.poisson(5, (50, n)), axis=1).astype(np.float64)
    size = _roundtrip(_times(rng, n), counters)
    # Before zstd: about one byte per sample for small increments, not 16.
    assert size / counters.size < 1.2
