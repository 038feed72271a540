"""The hand-written WriteRequest encoder, parsed back by the protobuf library."""

from __future__ import annotations

import math
import random
import struct

import cramjam
import pytest

from tests.monitor.remote_write.prompb import parse
from watchkeeper.monitor.model import STALE_NAN, STALE_NAN_BITS, labels_from
from watchkeeper.monitor.remote_write.wire import (
    LabelCache,
    compress,
    encode_write_request,
    varint,
)


def _bits(value: float) -> int:
    return int(struct.unpack("<Q", struct.pack("<d", value))[0])


@pytest.mark.parametrize(
    ("n", "encoded"),
    [(0, "00"), (1, "01"), (127, "7f"), (128, "8001"), (300, "ac02"), (-1, "ff" * 9 + "01")],
)
def test_varint(n: int, encoded: str) -> None:
    assert varint(n).hex() == encoded


def test_round_trip_through_the_protobuf_library() -> None:
    odd = labels_from(
        {
            "__name__": "http_server_request_duration_seconds_bucket",
            "le": "+Inf",
            "quote": 'a"b\\c\nd',
            "unicode": "ünï 😀",
            "long": "v" * 200,  # a two-byte length prefix
        }
    )
    values = [0.0, -0.0, 1.5, -2.25e-300, 5e-324, 1.7976931348623157e308, math.inf, -math.inf]
    series = [
        (odd, [(1_700_000_000_000 + i, v) for i, v in enumerate(values)]),
        (labels_from({"__name__": "up", "job": "api"}), [(0, 1.0), (-1_000, 0.0), (2**62, 1.0)]),
        (labels_from({"__name__": "gone"}), [(5, STALE_NAN), (6, math.nan)]),
    ]
    parsed = parse(encode_write_request(series))
    assert [labels for labels, _ in parsed] == [labels for labels, _ in series]
    for (_, got), (_, want) in zip(parsed, series, strict=True):
        assert [t for t, _ in got] == [t for t, _ in want]
        assert [_bits(v) for _, v in got] == [_bits(v) for _, v in want]  # -0.0 and NaNs too
    assert _bits(parsed[2][1][0][1]) == STALE_NAN_BITS


def test_random_series_round_trip() -> None:
    rng = random.Random(3)
    alphabet = 'abcxyz_09 "\\\n\té€😀'
    series = []
    for i in range(200):
        labels = labels_from(
            {
                "__name__": f"m{i}",
                **{
                    f"l{j}": "".join(rng.choices(alphabet, k=rng.randrange(1, 300)))
                    for j in range(rng.randrange(4))
                },
            }
        )
        samples = [(rng.randrange(-(2**63), 2**63), rng.uniform(-1e12, 1e12)) for _ in range(5)]
        series.append((labels, samples))
    assert parse(encode_write_request(series)) == series


def test_label_cache_reuses_bytes_and_stays_bounded() -> None:
    cache = LabelCache(max_entries=2)
    a, b, c = (labels_from({"__name__": n}) for n in "abc")
    first = cache.get(a)
    assert cache.get(a) is first
    cache.get(b)
    cache.get(c)  # over the bound: cleared, then c
    assert cache.get(a) is not first
    assert cache.get(a) == first


def test_compress_is_snappy_block_format() -> None:
    payload = encode_write_request(
        [(labels_from({"__name__": "x"}), [(i, 1.0) for i in range(500)])]
    )
    body = compress(payload)
    assert len(body) < len(payload) / 2
    assert bytes(cramjam.snappy.decompress_raw(body)) == payload
    # The block format starts with the uncompressed length as a varint (no stream header).
    assert body.startswith(varint(len(payload)))
