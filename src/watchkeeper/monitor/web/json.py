"""Render PromQL values and API envelopes as Prometheus' HTTP API does (web/api/v1).

Values are strings spelled as Prometheus' ``jsonutil.MarshalValue`` does: Go's
``strconv.AppendFloat(v, 'f', -1, 64)`` (shortest round-tripping digits, no
exponent: ``"1"``, ``"0.1"``), switching to ``'e'`` below 1e-6 and from 1e21 on
(``"1e-07"``, ``"1e+21"``), with ``"NaN"``, ``"+Inf"`` and ``"-Inf"``. Timestamps are
float seconds. Grafana and promtool parse these strings; the differential tests
check our spelling against a real Prometheus.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

import numpy as np
import orjson

from watchkeeper.monitor.model import Labels, labels_from
from watchkeeper.monitor.promql.value import Matrix, Sample, Scalar, Series, String, Value, Vector

__all__ = [
    "dumps",
    "encode_success",
    "error_body",
    "format_float",
    "format_timestamp",
    "parse_value",
    "render_value",
    "success_body",
]


def format_float(value: float) -> str:
    """``value`` spelled as Prometheus' API spells sample values."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = repr(value)  # Python's repr is also the shortest round-tripping spelling
    magnitude = abs(value)
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21):
        # Go's 'e' format; repr uses an exponent here too, with the same two-digit minimum.
        return text
    if "e" not in text:
        return text[:-2] if text.endswith(".0") else text
    # 1e16 <= |v| < 1e21 or 1e-6 <= |v| < 1e-4: repr chose an exponent, Go's 'f' does not.
    text = format(Decimal(text), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def format_timestamp(timestamp_ms: int) -> float | int:
    """Milliseconds as the float seconds Prometheus writes (an int when whole)."""
    if timestamp_ms % 1000 == 0:
        return timestamp_ms // 1000
    return timestamp_ms / 1000


def _metric(labels: Labels) -> dict[str, str]:
    return dict(labels)


def render_value(value: Value) -> dict[str, Any]:
    """The ``data`` object of a query response: ``resultType`` and ``result``."""
    if isinstance(value, Scalar):
        return {
            "resultType": "scalar",
            "result": [format_timestamp(value.timestamp_ms), format_float(value.value)],
        }
    if isinstance(value, String):
        return {
            "resultType": "string",
            "result": [format_timestamp(value.timestamp_ms), value.value],
        }
    if isinstance(value, Vector):
        return {
            "resultType": "vector",
            "result": [
                {
                    "metric": _metric(s.labels),
                    "value": [format_timestamp(s.timestamp_ms), format_float(s.value)],
                }
                for s in value.samples
            ],
        }
    if isinstance(value, Matrix):
        return {
            "resultType": "matrix",
            "result": [
                {
                    "metric": _metric(s.labels),
                    "values": [[format_timestamp(t), format_float(v)] for t, v in s.points],
                }
                for s in value.series
            ],
        }
    raise TypeError(f"cannot render PromQL value of type {type(value).__name__}")


def _ms(seconds: float | int) -> int:
    return round(float(seconds) * 1000)


def parse_value(data: dict[str, Any]) -> Value:
    """The inverse of ``render_value``: a query response's ``data`` (from any
    Prometheus-compatible API) as a PromQL value."""
    kind, result = data.get("resultType"), data.get("result", [])
    if kind == "scalar":
        return Scalar(_ms(result[0]), float(result[1]))
    if kind == "string":
        return String(_ms(result[0]), str(result[1]))
    if kind == "vector":
        return Vector(
            [
                Sample(labels_from(r["metric"]), _ms(r["value"][0]), float(r["value"][1]))
                for r in result
            ]
        )
    if kind == "matrix":
        return Matrix(
            [
                Series(labels_from(r["metric"]), [(_ms(t), float(v)) for t, v in r["values"]])
                for r in result
            ]
        )
    raise ValueError(f"unknown resultType {kind!r} in a query response")


def success_body(data: Any, warnings: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"status": "success", "data": data}
    if warnings:
        body["warnings"] = warnings
    return body


def error_body(error_type: str, message: str) -> dict[str, Any]:
    return {"status": "error", "errorType": error_type, "error": message}


def dumps(body: Any) -> bytes:
    return orjson.dumps(body)


# Magnitudes where orjson (Rust ryu) writes the same shortest positional digits as
# Python's repr and Go's 'f' format; outside it, and for NaN/Inf, values take the
# exact but slower ``format_float`` path.
_FAST_MIN, _FAST_MAX = 1e-4, 1e16
_DOT_ZERO = re.compile(rb"\.0(?=,|$)")


def _value_parts(values: tuple[float, ...]) -> list[bytes]:
    array = np.asarray(values, dtype=np.float64)
    magnitude = np.abs(array)
    fast = bool(
        np.isfinite(array).all()
        and ((magnitude == 0) | ((magnitude >= _FAST_MIN) & (magnitude < _FAST_MAX))).all()
    )
    if not fast:
        return [format_float(v).encode() for v in values]
    # One C-level pass: serialize all values, drop Go-less ".0" suffixes, split.
    return _DOT_ZERO.sub(b"", orjson.dumps(values)[1:-1]).split(b",")


def _matrix_result(matrix: Matrix) -> bytes:
    stamps: dict[int, bytes] = {}  # a range query's series share their timestamps
    out: list[bytes] = []
    for series in matrix.series:
        if not series.points:
            values = b""
        else:
            ts, vs = zip(*series.points, strict=True)
            for t in ts:
                if t not in stamps:
                    stamps[t] = orjson.dumps(format_timestamp(t))
            pairs = map(b',"'.join, zip(map(stamps.__getitem__, ts), _value_parts(vs), strict=True))
            values = b"[" + b'"],['.join(pairs) + b'"]'
        metric = orjson.dumps(_metric(series.labels))
        out.append(b'{"metric":' + metric + b',"values":[' + values + b"]}")
    return b"[" + b",".join(out) + b"]"


def encode_success(value: Value) -> bytes:
    """The whole success response for a query result, as bytes.

    Equal to ``dumps(success_body(render_value(value)))``; matrices, the large results
    of range queries, are encoded without building a Python object per point.
    """
    if not isinstance(value, Matrix):
        return dumps(success_body(render_value(value)))
    return (
        b'{"status":"success","data":{"resultType":"matrix","result":'
        + _matrix_result(value)
        + b"}}"
    )
