"""Lossless encodings of one series' timestamps and values, vectorised with numpy.

Why not Gorilla bit-packing: a bit-level encoder is a Python loop per sample.
Instead we turn each array into small integers (deltas or delta-of-deltas),
store them at the narrowest byte width that fits (0, 1, 2, 4 or 8 bytes), with
the bytes "shuffled" (all low bytes first, then the next byte plane...), and
let zstd squeeze the result (the block writer compresses many series per frame).

Values use "integer mode" whenever the series is integral after scaling by a
power of ten (counters, bucket counts, bytes, 0.25-second CPU counters...), with
rare non-conforming samples (stale markers, NaN, one odd float) kept as patches;
otherwise "xor mode" stores each value's bits XORed with the previous ones.
Every encoding is checked exact before use: decode(encode(x)) == x bit for bit.
"""

from __future__ import annotations

import struct

import numpy as np
import numpy.typing as npt

__all__ = ["decode_ints", "decode_values", "encode_ints", "encode_values"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

_WIDTHS = (
    (0, 0, np.dtype(np.uint8)),
    (1, 0xFF, np.dtype(np.uint8)),
    (2, 0xFFFF, np.dtype("<u2")),
    (4, 0xFFFFFFFF, np.dtype("<u4")),
)
_U64 = np.dtype("<u8")
_MODE_INT = 1
_MODE_XOR = 2
_SCALES = (0, 1, 2, 3, 6)
_INT_HEADER = struct.Struct("<BBI")  # mode, scale exponent, number of patches
_MAX_EXACT = float(2**53)


def _zigzag(x: I64) -> npt.NDArray[np.uint64]:
    return ((x << 1) ^ (x >> 63)).view(np.uint64)


def _unzigzag(z: npt.NDArray[np.uint64]) -> I64:
    return (z >> np.uint64(1)).view(np.int64) ^ -(z & np.uint64(1)).view(np.int64)


def _width_of(z: npt.NDArray[np.uint64]) -> int:
    top = int(z.max()) if len(z) else 0
    for width, limit, _ in _WIDTHS:
        if top <= limit:
            return width
    return 8


def _pack(z: npt.NDArray[np.uint64], width: int) -> bytes:
    """Narrow to ``width`` bytes, then shuffle byte planes so zstd sees runs of zeros."""
    if width == 0:
        return b""
    dtype = _U64 if width == 8 else next(d for w, _, d in _WIDTHS if w == width)
    narrow = z.astype(dtype)
    if width == 1:
        return narrow.tobytes()
    return narrow.view(np.uint8).reshape(-1, width).T.tobytes()


def _unpack(buf: bytes | memoryview, width: int, n: int) -> npt.NDArray[np.uint64]:
    if width == 0:
        return np.zeros(n, dtype=np.uint64)
    dtype = _U64 if width == 8 else next(d for w, _, d in _WIDTHS if w == width)
    raw = np.frombuffer(buf, dtype=np.uint8, count=n * width)
    if width == 1:
        return raw.astype(np.uint64)
    return raw.reshape(width, n).T.copy().view(dtype).reshape(n).astype(np.uint64)


_HEAD = struct.Struct("<BBqq")  # delta order, width, first value, first delta


def _encode_diffs(x: I64) -> bytes:
    """First value and first delta verbatim, then the cheaper of delta / delta-of-delta."""
    first = int(x[0]) if len(x) else 0
    d = np.diff(x)
    d0 = int(d[0]) if len(d) else 0
    z1 = _zigzag(d[1:])
    z2 = _zigzag(np.diff(d))
    w1, w2 = _width_of(z1), _width_of(z2)
    order, width, z = (2, w2, z2) if w2 < w1 else (1, w1, z1)
    return _HEAD.pack(order, width, first, d0) + _pack(z, width)


def _decode_diffs(buf: bytes | memoryview, n: int) -> I64:
    order, width, first, d0 = _HEAD.unpack_from(buf, 0)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    rest = _unzigzag(_unpack(buf[_HEAD.size :], width, max(n - 2, 0)))
    if order == 2:
        d = np.cumsum(np.concatenate(([np.int64(d0)], rest)), dtype=np.int64)
    else:
        d = np.concatenate(([np.int64(d0)], rest))
    out = np.empty(n, dtype=np.int64)
    out[0] = first
    out[1:] = first + np.cumsum(d[: n - 1], dtype=np.int64)
    return out


def encode_ints(x: I64) -> bytes:
    """Timestamps (or any int64 array)."""
    return _encode_diffs(x)


def decode_ints(buf: bytes | memoryview, n: int) -> I64:
    return _decode_diffs(buf, n)


def _integral(v: F64) -> tuple[int, I64, npt.NDArray[np.bool_]] | None:
    """(scale exponent, scaled ints, patch mask) if few enough samples need patching."""
    allowed = len(v) // 8
    with np.errstate(invalid="ignore", over="ignore"):
        for exp in _SCALES:
            scale = 10.0**exp
            scaled = np.rint(v * scale) if exp else np.rint(v)
            ok = np.isfinite(scaled) & (np.abs(scaled) < _MAX_EXACT)
            ok &= ((scaled / scale) if exp else scaled) == v
            # -0.0 == 0.0 but the bits differ: keep it as a patch to stay lossless.
            ok &= ~((v == 0) & np.signbit(v))
            patches = ~ok
            if int(patches.sum()) <= allowed:
                ints = np.where(ok, scaled, 0.0).astype(np.int64)
                if patches.any():
                    # Repeat the previous good value so patches don't widen the diffs.
                    idx = np.where(ok, np.arange(len(v)), 0)
                    np.maximum.accumulate(idx, out=idx)
                    ints = ints[idx]
                return exp, ints, patches
    return None


def encode_values(v: F64) -> bytes:
    """float64 array -> bytes; see the module docstring for the two modes."""
    found = _integral(v)
    if found is None:
        bits = v.view(np.uint64)
        xored = bits ^ np.concatenate(([np.uint64(0)], bits[:-1]))
        return bytes((_MODE_XOR,)) + _pack(xored, 8)
    exp, ints, patches = found
    where = np.flatnonzero(patches).astype("<u4")
    header = _INT_HEADER.pack(_MODE_INT, exp, len(where))
    patch_bits = v[where].view(np.uint64).astype(_U64)
    return b"".join((header, where.tobytes(), patch_bits.tobytes(), _encode_diffs(ints)))


def decode_values(buf: bytes | memoryview, n: int) -> F64:
    if buf[0] == _MODE_XOR:
        xored = _unpack(buf[1:], 8, n)
        return np.bitwise_xor.accumulate(xored).view(np.float64)
    _, exp, npatch = _INT_HEADER.unpack_from(buf, 0)
    pos = _INT_HEADER.size
    where = np.frombuffer(buf, dtype="<u4", count=npatch, offset=pos)
    pos += 4 * npatch
    patch_bits = np.frombuffer(buf, dtype=_U64, count=npatch, offset=pos)
    pos += 8 * npatch
    out = _decode_diffs(buf[pos:], n).astype(np.float64)
    if exp:
        out /= 10.0**exp
    if npatch:
        out.view(np.uint64)[where] = patch_bits
    return out
