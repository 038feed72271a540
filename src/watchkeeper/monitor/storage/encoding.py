"""Lossless columnar encoding of a *group*: many series sharing one timestamp column.

Series scraped together share their timestamps, so a group is a timestamp
vector ``t`` (n) and a value matrix ``V`` (m series x n samples). Everything is
vectorised over the whole matrix with numpy - no Python loop per sample or per
series - which is what makes cutting and compacting blocks cheap.

Why not Gorilla bit-packing: a bit-level encoder is a loop per sample. Instead
each row becomes small integers (deltas or delta-of-deltas, whichever is
narrower), stored at the narrowest byte width that fits (0, 1, 2, 4 or 8) with
byte planes shuffled so zstd (applied by the block writer) sees long runs.

Values use "integer mode" when a row is integral after scaling by a power of
ten (counters, bucket counts, bytes, CPU seconds in 1/100 s ticks, ...). The few
samples that are not (stale markers, NaN, -0.0, an odd float) are "patches"
stored verbatim; the row falls back to "xor mode" (each value's bits XORed with
the previous value's) when patches exceed 1/8 of it. Exactness is checked per
sample, so decode(encode(V)) == V bit for bit.

Payload layout (little endian)::

    u32 m | u32 n | timestamp row (i64 first, i64 first delta, u8 order, u8 width, data)
    per-row params: u8 mode[m] u8 exp[m] u8 order[m] u8 width[m] i64 first[m] i64 d0[m]
    u32 npatch | u32 patch_row[P] | u32 patch_pos[P] | u64 patch_bits[P]
    data of the rows, grouped by (mode, order, width) class, row-major within a class
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["decode_group", "encode_group"]

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]
F64 = npt.NDArray[np.float64]

_WIDTH_DTYPES: dict[int, np.dtype[Any]] = {
    1: np.dtype("<u1"),
    2: np.dtype("<u2"),
    4: np.dtype("<u4"),
    8: np.dtype("<u8"),
}
_INT, _XOR = 1, 2
_SCALES = (0, 1, 2, 3, 6)
_MAX_EXACT = float(2**53)
_DIMS = struct.Struct("<II")
_TS_HEAD = struct.Struct("<qqBB")


def _zigzag(x: I64) -> U64:
    return ((x << 1) ^ (x >> 63)).view(np.uint64)


def _unzigzag(z: U64) -> I64:
    return (z >> np.uint64(1)).view(np.int64) ^ -(z & np.uint64(1)).view(np.int64)


def _widths(z: U64) -> npt.NDArray[np.uint8]:
    """Per row: the narrowest width in bytes holding every value of ``z`` (m x k)."""
    top = z.max(axis=1) if z.shape[1] else np.zeros(z.shape[0], np.uint64)
    out = np.full(z.shape[0], 8, np.uint8)
    out[top <= np.uint64(0xFFFFFFFF)] = 4
    out[top <= np.uint64(0xFFFF)] = 2
    out[top <= np.uint64(0xFF)] = 1
    out[top == 0] = 0
    return out


def _pack(z: U64, width: int) -> bytes:
    """Rows of ``z`` at ``width`` bytes, byte planes shuffled within each row."""
    if width == 0 or z.size == 0:
        return b""
    narrow = z.astype(_WIDTH_DTYPES[width])
    m, k = z.shape
    return narrow.view(np.uint8).reshape(m, k, width).transpose(0, 2, 1).tobytes()


def _unpack(buf: memoryview, pos: int, m: int, k: int, width: int) -> tuple[U64, int]:
    if width == 0 or m * k == 0:
        return np.zeros((m, k), np.uint64), pos
    size = m * k * width
    raw = np.frombuffer(buf, np.uint8, size, pos).reshape(m, width, k).transpose(0, 2, 1)
    out = np.ascontiguousarray(raw).view(_WIDTH_DTYPES[width]).reshape(m, k)
    return out.astype(np.uint64), pos + size


def _diff_rows(x: I64) -> tuple[I64, I64, npt.NDArray[np.uint8], npt.NDArray[np.uint8], U64, U64]:
    """first, first delta, order, width and the zigzag data for both orders."""
    m, n = x.shape
    first = x[:, 0].copy() if n else np.zeros(m, np.int64)
    d = np.diff(x, axis=1)
    d0 = d[:, 0].copy() if n > 1 else np.zeros(m, np.int64)
    z1 = _zigzag(d[:, 1:])
    z2 = _zigzag(np.diff(d, axis=1))
    w1, w2 = _widths(z1), _widths(z2)
    order = np.where(w2 < w1, 2, 1).astype(np.uint8)
    width = np.minimum(w1, w2)
    return first, d0, order, width, z1, z2


def _encode_ts(t: I64) -> bytes:
    first, d0, order, width, z1, z2 = _diff_rows(t.reshape(1, -1))
    z = z2 if order[0] == 2 else z1
    return _TS_HEAD.pack(int(first[0]), int(d0[0]), int(order[0]), int(width[0])) + _pack(
        z, int(width[0])
    )


def _undiff(first: I64, d0: I64, z: U64, order: int, n: int) -> I64:
    m = len(first)
    rest = _unzigzag(z)
    d = np.empty((m, max(n - 1, 0)), np.int64)
    if n > 1:
        d[:, 0] = d0
        d[:, 1:] = rest
        if order == 2:
            np.cumsum(d, axis=1, out=d)
    out = np.empty((m, n), np.int64)
    if n:
        out[:, 0] = first
        if n > 1:
            np.cumsum(d, axis=1, out=out[:, 1:])
            out[:, 1:] += first[:, None]
    return out


def _choose_scale(v: F64) -> tuple[npt.NDArray[np.uint8], I64, npt.NDArray[np.bool_]]:
    """Per row: scale exponent (255 = xor mode), scaled ints, and the patch mask."""
    m, n = v.shape
    allowed = n // 8
    exps = np.full(m, 255, np.uint8)
    ints = np.zeros((m, n), np.int64)
    patches = np.zeros((m, n), np.bool_)
    todo = np.ones(m, np.bool_)
    neg_zero = (v == 0) & np.signbit(v)
    with np.errstate(invalid="ignore", over="ignore"):
        for exp in _SCALES:
            rows = np.flatnonzero(todo)
            if len(rows) == 0:
                break
            sub = v[rows]
            scale = 10.0**exp
            scaled = np.rint(sub * scale) if exp else np.rint(sub)
            ok = np.isfinite(scaled) & (np.abs(scaled) < _MAX_EXACT) & ~neg_zero[rows]
            ok &= ((scaled / scale) if exp else scaled) == sub
            good = (n - ok.sum(axis=1)) <= allowed
            chosen = rows[good]
            exps[chosen] = exp
            ints[chosen] = np.where(ok[good], scaled[good], 0.0).astype(np.int64)
            patches[chosen] = ~ok[good]
            todo[chosen] = False
    if patches.any():
        # Repeat the previous good value at a patch so it doesn't widen the diffs.
        idx = np.where(patches, 0, np.arange(n))
        np.maximum.accumulate(idx, axis=1, out=idx)
        ints = np.take_along_axis(ints, idx, axis=1)
    return exps, ints, patches


def encode_group(t: I64, v: F64) -> bytes:
    """Encode timestamps ``t`` (n) and values ``v`` (m x n) as one payload."""
    m, n = v.shape
    exps, ints, patches = _choose_scale(v)
    xor_rows = exps == 255
    bits = v.view(np.uint64)
    if xor_rows.any():
        xb = bits[xor_rows]
        xored = xb.copy()
        xored[:, 1:] ^= xb[:, :-1]
        ints[xor_rows] = xored.view(np.int64)
    first, d0, order, width, z1, z2 = _diff_rows(ints)
    mode = np.where(xor_rows, _XOR, _INT).astype(np.uint8)
    # xor rows: ``first``/``d0`` unused, the data is all n xored words at width 8.
    order[xor_rows] = 0
    width[xor_rows] = 8
    prow, ppos = np.nonzero(patches)
    parts = [
        _DIMS.pack(m, n),
        _encode_ts(t),
        mode.tobytes(),
        exps.tobytes(),
        order.tobytes(),
        width.tobytes(),
        first.astype("<i8").tobytes(),
        d0.astype("<i8").tobytes(),
        struct.pack("<I", len(prow)),
        prow.astype("<u4").tobytes(),
        ppos.astype("<u4").tobytes(),
        bits[prow, ppos].astype("<u8").tobytes(),
    ]
    for cls_order, cls_width, rows in _classes(order, width):
        if cls_order == 0:
            parts.append(_pack(ints[rows].view(np.uint64), 8))
        else:
            z = z2 if cls_order == 2 else z1
            parts.append(_pack(z[rows], cls_width))
    return b"".join(parts)


def _classes(
    order: npt.NDArray[np.uint8], width: npt.NDArray[np.uint8]
) -> list[tuple[int, int, npt.NDArray[np.intp]]]:
    key = order.astype(np.int64) * 16 + width
    return [(int(k) // 16, int(k) % 16, np.flatnonzero(key == k)) for k in np.unique(key).tolist()]


def decode_group(payload: bytes | memoryview) -> tuple[I64, F64]:
    """The inverse of ``encode_group``: (timestamps, values matrix)."""
    buf = memoryview(payload)
    m, n = _DIMS.unpack_from(buf, 0)
    pos = _DIMS.size
    tfirst, td0, torder, twidth = _TS_HEAD.unpack_from(buf, pos)
    pos += _TS_HEAD.size
    tz, pos = _unpack(buf, pos, 1, max(n - 2, 0), twidth)
    t = _undiff(np.array([tfirst]), np.array([td0]), tz, torder, n)[0]
    # mode[m] is implied by order (0 = xor); it is stored for tools and future modes.
    exps = np.frombuffer(buf, np.uint8, m, pos + m)
    order = np.frombuffer(buf, np.uint8, m, pos + 2 * m)
    width = np.frombuffer(buf, np.uint8, m, pos + 3 * m)
    pos += 4 * m
    first = np.frombuffer(buf, "<i8", m, pos).astype(np.int64)
    d0 = np.frombuffer(buf, "<i8", m, pos + 8 * m).astype(np.int64)
    pos += 16 * m
    (npatch,) = struct.unpack_from("<I", buf, pos)
    pos += 4
    prow = np.frombuffer(buf, "<u4", npatch, pos)
    ppos = np.frombuffer(buf, "<u4", npatch, pos + 4 * npatch)
    pbits = np.frombuffer(buf, "<u8", npatch, pos + 8 * npatch)
    pos += 16 * npatch
    out = np.empty((m, n), np.float64)
    for cls_order, cls_width, rows in _classes(order, width):
        if cls_order == 0:
            xored, pos = _unpack(buf, pos, len(rows), n, 8)
            out[rows] = np.bitwise_xor.accumulate(xored, axis=1).view(np.float64)
            continue
        z, pos = _unpack(buf, pos, len(rows), max(n - 2, 0), cls_width)
        ints = _undiff(first[rows], d0[rows], z, cls_order, n).astype(np.float64)
        for exp in np.unique(exps[rows]).tolist():
            if exp:
                sel = exps[rows] == exp
                ints[sel] /= 10.0**exp
        out[rows] = ints
    if npatch:
        out.view(np.uint64)[prow.astype(np.intp), ppos.astype(np.intp)] = pbits
    return t, out
