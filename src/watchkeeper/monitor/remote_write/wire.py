"""The remote write 1.0 wire format: a protobuf ``WriteRequest``, snappy block-compressed.

The schema is four tiny messages (prometheus/prompb/types.proto and remote.proto)::

    message WriteRequest { repeated TimeSeries timeseries = 1; }
    message TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
    message Label        { string name = 1; string value = 2; }
    message Sample       { double value = 1; int64 timestamp = 2; }

so they are encoded by hand here (varints, length-delimited fields, little-endian
doubles) rather than through generated code: no protoc step, no runtime dependency,
and the label bytes of a series are encoded once and reused for every batch.
Values are packed as raw IEEE 754 bits, so NaN payloads (the stale marker) survive.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

from watchkeeper.monitor.model import Labels

__all__ = ["CONTENT_TYPE", "HEADERS", "LabelCache", "compress", "encode_write_request", "varint"]

CONTENT_TYPE = "application/x-protobuf"
# The spec's required headers; the version is 0.1.0 for remote write 1.0.
HEADERS = {
    "Content-Encoding": "snappy",
    "Content-Type": CONTENT_TYPE,
    "X-Prometheus-Remote-Write-Version": "0.1.0",
}

_DOUBLE = struct.Struct("<d")
# Field tags: (field number << 3) | wire type (0 varint, 1 fixed64, 2 length-delimited).
_TAG_TIMESERIES = b"\x0a"  # WriteRequest.timeseries = 1
_TAG_LABELS = b"\x0a"  # TimeSeries.labels = 1
_TAG_SAMPLES = b"\x12"  # TimeSeries.samples = 2
_TAG_NAME = b"\x0a"  # Label.name = 1
_TAG_VALUE = b"\x12"  # Label.value = 2
_TAG_SAMPLE_VALUE = 0x09  # Sample.value = 1, fixed64
_TAG_SAMPLE_TS = b"\x10"  # Sample.timestamp = 2, varint
# TimeSeries.samples tag, the Sample's length and its value tag, by the timestamp field's size.
_SAMPLE_PREFIX = {n: _TAG_SAMPLES + bytes((9 + n, _TAG_SAMPLE_VALUE)) for n in range(2, 12)}


def varint(n: int) -> bytes:
    """Base-128 varint; a negative int64 is its two's complement (ten bytes), as protobuf does."""
    if n < 0:
        n += 1 << 64
    if n < 0x80:
        return bytes((n,))
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(tag: bytes, payload: bytes) -> bytes:
    return tag + varint(len(payload)) + payload


def _encode_labels(labels: Labels) -> bytes:
    parts = []
    for name, value in labels:
        label = _field(_TAG_NAME, name.encode()) + _field(_TAG_VALUE, value.encode())
        parts.append(_field(_TAG_LABELS, label))
    return b"".join(parts)


class LabelCache:
    """Encoded ``labels`` fields per label set: a series' labels are encoded once, not
    once per batch. Bounded: cleared when it outgrows ``max_entries`` (series churn)."""

    def __init__(self, max_entries: int = 200_000) -> None:
        self._encoded: dict[Labels, bytes] = {}
        self._max = max_entries

    def get(self, labels: Labels) -> bytes:
        encoded = self._encoded.get(labels)
        if encoded is None:
            if len(self._encoded) >= self._max:
                self._encoded.clear()
            encoded = self._encoded[labels] = _encode_labels(labels)
        return encoded


def encode_write_request(
    series: Iterable[tuple[Labels, Sequence[tuple[int, float]]]],
    cache: LabelCache | None = None,
) -> bytes:
    """A serialized ``WriteRequest``: one ``TimeSeries`` per (labels, samples) pair.

    ``labels`` must be canonical (sorted by name, as the spec requires and
    ``monitor.model.labels_from`` makes them); samples oldest first."""
    cache = cache or LabelCache()
    pack = _DOUBLE.pack
    # A scrape's samples share one timestamp: its encoded field is built once per request.
    stamps: dict[int, bytes] = {}
    out = []
    for labels, samples in series:
        parts = [cache.get(labels)]
        for t, v in samples:
            stamp = stamps.get(t)
            if stamp is None:
                stamp = stamps[t] = _TAG_SAMPLE_TS + varint(t)
            # Sample = value (tag + 8 bytes) + timestamp: at most 20 bytes, a one-byte length.
            parts.append(_SAMPLE_PREFIX[len(stamp)] + pack(v) + stamp)
        ts = b"".join(parts)
        out.append(_TAG_TIMESERIES + varint(len(ts)) + ts)
    return b"".join(out)


def compress(payload: bytes) -> bytes:
    """Snappy's block format (not the framed one), as the spec requires."""
    try:
        import cramjam
    except ImportError:  # pragma: no cover - cramjam is in the monitor extra
        raise RuntimeError(
            "remote write needs snappy compression from 'cramjam'; "
            "install it with: pip install 'watchkeeper[monitor]'"
        ) from None
    return bytes(cramjam.snappy.compress_raw(payload))
