"""Deterministic OpenMetrics test data for the differential suite (and the benchmark).

Realistic shapes: counters with resets, gauges on irregular intervals, classic
histograms with ``le`` buckets, a series that starts late and one that stops.

Every timestamp has a non-zero millisecond part while every query time, range,
offset and subquery step is a whole second. So no sample ever sits on a range
boundary, where Prometheus 2.42 (closed ``[t-r, t]``) and 3.x (left-open
``(t-r, t]``) disagree.

The other 2.42/3.x difference met here is rate()'s zero clamp when a counter's
first sample is far from the window start (prometheus#13725, fixed in 2.51, which
our evaluator follows): counters therefore begin an hour before T0, earlier than
any query window reaches, and the series that starts late is a gauge.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = ["T0_MS", "Dataset", "differential_dataset", "golden_signals_dataset"]

T0_MS = 1_700_000_000_000  # 2023-11-14T22:13:20Z: fixed, so results never depend on "now"
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _fmt_ts(ms: int) -> str:
    return f"{ms // 1000}.{ms % 1000:03d}"


def _fmt_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def _safe_ts(ms: int) -> int:
    """Nudge ``ms`` so it is off whole seconds and survives promtool's ``int64(float * 1000)``.

    Go parses the seconds text to a float64 and truncates ``ts * 1000``; some
    values land one millisecond low. Picking only timestamps that survive keeps
    both importers (whatever their rounding) on the same millisecond.
    """
    while ms % 1000 == 0 or int(float(_fmt_ts(ms)) * 1000) != ms:
        ms += 1
    return ms


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"


@dataclass
class Dataset:
    """OpenMetrics families built in memory and written in canonical order."""

    families: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    samples: int = 0

    def _family(self, name: str, kind: str) -> list[str]:
        return self.families.setdefault(name, (kind, []))[1]

    def add(
        self,
        family: str,
        kind: str,
        sample: str,
        labels: dict[str, str],
        points: list[tuple[int, float]],
    ) -> None:
        lines = self._family(family, kind)
        text = _labels(labels)
        lines.extend(f"{sample}{text} {_fmt_value(v)} {_fmt_ts(t)}" for t, v in points)
        self.samples += len(points)

    def add_histogram(
        self, family: str, labels: dict[str, str], points: list[tuple[int, list[float], float]]
    ) -> None:
        """``points``: (timestamp, cumulative counts per BUCKETS + +Inf, sum)."""
        lines = self._family(family, "histogram")
        for t, counts, total in points:
            ts = _fmt_ts(t)
            for le, count in zip((*BUCKETS, "+Inf"), counts, strict=True):
                le_text = le if isinstance(le, str) else repr(le)
                lines.append(f"{family}_bucket{_labels({**labels, 'le': le_text})} {count!r} {ts}")
            lines.append(f"{family}_count{_labels(labels)} {counts[-1]!r} {ts}")
            lines.append(f"{family}_sum{_labels(labels)} {total!r} {ts}")
            self.samples += len(counts) + 2

    def text(self) -> str:
        out: list[str] = []
        for name, (kind, lines) in self.families.items():
            out.append(f"# TYPE {name} {kind}")
            out.extend(lines)
        out.append("# EOF")
        return "\n".join(out) + "\n"


def _times(
    rng: random.Random, start_ms: int, end_ms: int, interval_ms: int, jitter_ms: int
) -> Iterator[int]:
    t = start_ms + rng.randrange(1, interval_ms)
    last = -1
    while t < end_ms:
        ts = _safe_ts(t + rng.randrange(-jitter_ms, jitter_ms + 1) if jitter_ms else t)
        if ts > last:
            yield ts
            last = ts
        t += interval_ms


def _counter(
    rng: random.Random, times: Iterator[int], rate: float, reset_at: int | None, fractional: bool
) -> list[tuple[int, float]]:
    value, points = 0.0, []
    for t in times:
        if reset_at is not None and t >= reset_at:
            value, reset_at = 0.0, None
        step = (
            rng.uniform(0, 2 * rate) if fractional else float(rng.randrange(0, int(2 * rate) + 1))
        )
        value += step
        points.append((t, value))
    return points


def _latency_counts(rng: random.Random, n: int, slow: float) -> list[float]:
    counts = [0.0] * (len(BUCKETS) + 1)
    for _ in range(n):
        latency = rng.lognormvariate(-3.0 + slow, 1.0)
        for i, le in enumerate(BUCKETS):
            if latency <= le:
                counts[i] += 1
        counts[-1] += 1
    return counts


def _histogram(
    rng: random.Random, times: Iterator[int], per_step: int, slow: float, reset_at: int | None
) -> list[tuple[int, list[float], float]]:
    cumulative = [0.0] * (len(BUCKETS) + 1)
    total = 0.0
    points = []
    for t in times:
        if reset_at is not None and t >= reset_at:
            cumulative, total, reset_at = [0.0] * len(cumulative), 0.0, None
        n = rng.randrange(0, 2 * per_step + 1)
        counts = _latency_counts(rng, n, slow)
        cumulative = [c + d for c, d in zip(cumulative, counts, strict=True)]
        total += n * rng.uniform(0.02, 0.2) * (1 + slow)
        points.append((t, list(cumulative), round(total, 6)))
    return points


def differential_dataset(seed: int = 6) -> Dataset:
    """Three hours (T0 - 1h .. T0 + 2h) of a small service: ~50 series, ~28k samples."""
    rng = random.Random(seed)
    start = T0_MS - 3_600_000
    end = T0_MS + 2 * 3_600_000
    ds = Dataset()
    for instance in ("a:8000", "b:8000"):
        for method in ("GET", "POST"):
            for code in ("200", "500"):
                rate = {"200": 20.0, "500": 1.5}[code] * (1 if method == "GET" else 0.4)
                reset = T0_MS + 50 * 60_000 if instance == "b:8000" else None
                labels = {"job": "api", "instance": instance, "method": method, "code": code}
                times = _times(rng, start, end, 15_000, 2_000)
                points = _counter(rng, times, rate, reset, fractional=False)
                ds.add("http_requests", "counter", "http_requests_total", labels, points)
        labels = {"job": "api", "instance": instance}
        reset = T0_MS + 70 * 60_000 if instance == "a:8000" else None
        slow = 0.0 if instance == "a:8000" else 1.0
        hist = _histogram(rng, _times(rng, start, end, 15_000, 1_500), 10, slow, reset)
        ds.add_histogram("http_request_duration_seconds", labels, hist)
    # A counter with fractional increments, scraped every 30 s.
    frac = _counter(rng, _times(rng, start, end, 30_000, 5_000), 0.7, None, True)
    ds.add("bytes_sent", "counter", "bytes_sent_total", {"job": "api", "instance": "a:8000"}, frac)
    # A gauge that only appears 40 minutes after T0.
    pts = [
        (t, float(rng.randrange(0, 1 << 20)))
        for t in _times(rng, T0_MS + 2_400_000, end, 20_000, 3_000)
    ]
    ds.add("cache_size_bytes", "gauge", "cache_size_bytes", {"job": "api"}, pts)
    # Gauges on irregular intervals (5-40 s apart), one with negative values.
    for worker in ("w1", "w2", "w3"):
        t, value, points = start + rng.randrange(1, 9_000), 5.0, []
        while t < end:
            t = _safe_ts(t)
            value = max(-3.0, value + rng.uniform(-1.5, 1.6))
            points.append((t, round(value, 3)))
            t += rng.randrange(5_000, 40_000)
        ds.add("queue_depth", "gauge", "queue_depth", {"job": "worker", "worker": worker}, points)
    # A gauge whose series stops 80 minutes in (imported data carries no stale markers:
    # both engines then drop it 5 minutes (the lookback) after its last sample).
    for room in ("kitchen", "lab"):
        stop = T0_MS + (80 if room == "lab" else 120) * 60_000
        pts = [
            (t, round(18 + 4 * rng.random(), 2)) for t in _times(rng, T0_MS, stop, 60_000, 10_000)
        ]
        ds.add("temperature_celsius", "gauge", "temperature_celsius", {"room": room}, pts)
    # Label values that need escaping or are not ASCII, for matchers and the JSON path.
    odd = ["/api/v1/items?id=7", 'say "hi"', "two\nlines", "back\\slash", "Zürich ☀", "a.b*c"]
    for i, odd_value in enumerate(odd):
        pts = [(t, float(i)) for t in _times(rng, start, end, 60_000, 5_000)]
        ds.add("odd_labels", "gauge", "odd_labels", {"value": odd_value}, pts)
    # Malformed classic histograms (as gauges with an "le" label, which is all
    # histogram_quantile looks at): no +Inf bucket, non-monotonic, only +Inf, empty.
    shapes = {
        "no_inf": {"0.1": 3.0, "0.5": 7.0},
        "non_monotonic": {"0.1": 10.0, "0.5": 8.0, "1.0": 11.0, "+Inf": 12.0},
        "only_inf": {"+Inf": 5.0},
        "empty": {"0.1": 0.0, "+Inf": 0.0},
        "negative_le": {"-1.0": 1.0, "0.0": 2.0, "1.0": 4.0, "+Inf": 4.0},
    }
    for case, buckets in shapes.items():
        stamps = list(_times(rng, start, end, 60_000, 5_000))
        for le, count in buckets.items():
            pts = [(t, count * (1 + k // 10)) for k, t in enumerate(stamps)]
            ds.add("weird", "gauge", "weird_bucket", {"case": case, "le": le}, pts)
    # Gauges that sometimes report NaN or infinities (aggregations and sorting must
    # treat them as Prometheus does).
    specials = [math.nan, math.inf, -math.inf]
    for sensor in ("s1", "s2", "s3", "s4"):
        pts = [
            (t, rng.choice(specials) if rng.random() < 0.15 else round(rng.uniform(-5, 5), 2))
            for t in _times(rng, start, end, 30_000, 4_000)
        ]
        ds.add("flaky", "gauge", "flaky_reading", {"sensor": sensor}, pts)
    info = [(t, 1.0) for t in _times(rng, start, end, 60_000, 0)]
    for version in ("1.2.3", "1.3.0"):
        ds.add("build_info", "gauge", "build_info", {"job": "api", "version": version}, info)
    return ds


def golden_signals_dataset(histograms: int, hours: float, seed: int = 7) -> Dataset:
    """A benchmark service: ``histograms`` latency histograms (12 ``le`` buckets each) plus
    request counters by code, every 15 s for ``hours`` hours before T0 + hours."""
    rng = random.Random(seed)
    end = T0_MS + int(hours * 3_600_000)
    ds = Dataset()
    routes = [f"/api/v{i // 10}/r{i % 10}" for i in range(histograms)]
    for i, route in enumerate(routes):
        instance = f"10.0.0.{i % 4}:8000"
        labels = {"job": "api", "instance": instance, "http_route": route}
        times = list(_times(rng, T0_MS, end, 15_000, 1_000))
        hist = _histogram(rng, iter(times), 3, (i % 5) / 5, None)
        ds.add_histogram("http_server_request_duration_seconds", labels, hist)
        for code in ("200", "500"):
            rate = 10.0 if code == "200" else 0.3
            points = _counter(rng, iter(times), rate, None, fractional=False)
            ds.add(
                "http_server_requests",
                "counter",
                "http_server_requests_total",
                {**labels, "http_response_status_code": code},
                points,
            )
    return ds
