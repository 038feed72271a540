"""The exposition parser, with prometheus_client's parsers as the oracle."""

from __future__ import annotations

import math
import random

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, Summary
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as oracle_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as oracle_text

from watchkeeper.monitor.model import Labels, labels_from
from watchkeeper.monitor.scrape.parser import ExpositionError, Parser, parse_series

Row = tuple[Labels, str, float | None]


def _ours(text: str, *, openmetrics: bool) -> set[Row]:
    parser = Parser(openmetrics=openmetrics)
    return {
        (parse_series(key), repr(value), None if ts is None else ts / 1000)
        for key, value, ts in parser.parse(text)
    }


def _oracle(text: str, *, openmetrics: bool) -> set[Row]:
    families = oracle_openmetrics(text) if openmetrics else oracle_text(text)  # type: ignore[no-untyped-call]
    rows: set[Row] = set()
    for family in families:
        for s in family.samples:
            if openmetrics and s.name.endswith("_created"):
                continue  # Prometheus drops these when scraping OpenMetrics
            ts = s.timestamp
            seconds = None if ts is None else float(ts if isinstance(ts, float) else float(ts))
            labels = labels_from({"__name__": s.name, **s.labels})
            rows.add((labels, repr(float(s.value)), seconds))
    return rows


def _registry() -> CollectorRegistry:
    reg = CollectorRegistry()
    c = Counter("http_requests", "Requests.", ["path", "code"], registry=reg)
    for path in ("/", "/a b", 'quote"', "back\\slash", "new\nline", "brace}{", "hash # {x}", "é"):
        c.labels(path=path, code="200").inc(3)
    c.labels(path="", code="500").inc(0.25)
    g = Gauge("temperature_celsius", "Temp with a \\ and a\nnewline.", ["room"], registry=reg)
    g.labels(room="a").set(float("nan"))
    g.labels(room="b").set(float("inf"))
    g.labels(room="c").set(float("-inf"))
    g.labels(room="d").set(-1e-300)
    h = Histogram("latency_seconds", "Latency.", ["route"], registry=reg)
    for v in (0.001, 0.2, 3, 100):
        h.labels(route="/x").observe(v)
    Summary("payload_bytes", "Payload.", registry=reg).observe(512)
    Info("build", "Build info.", registry=reg).info({"version": "1.2.3", "commit": "abc"})
    return reg


@pytest.mark.parametrize("openmetrics", [False, True])
def test_prometheus_client_output_parses_like_the_oracle(openmetrics: bool) -> None:
    reg = _registry()
    text = (generate_openmetrics if openmetrics else generate_latest)(reg).decode()
    ours = _ours(text, openmetrics=openmetrics)
    assert ours == _oracle(text, openmetrics=openmetrics)
    assert len(ours) > 20


EDGE_TEXT = """\
# A free comment is fine in the text format
# HELP x_total with \\\\ escapes \\n
# TYPE x_total counter
x_total{a="1",b="two words"} 1.5
x_total{a="2",} 2
x_total{ a = "3" , b="x"} 3e3
y NaN
y2 +Inf
y3 -Inf 1700000000123
z{brace="}",quote="\\"",nl="\\n"} 1
empty{} 4
w\t7
"""


def test_edge_cases_match_the_text_oracle() -> None:
    ours = _ours(EDGE_TEXT, openmetrics=False)
    assert ours == _oracle(EDGE_TEXT, openmetrics=False)
    by_name = {dict(labels)["__name__"]: (labels, v, ts) for labels, v, ts in ours}
    assert dict(by_name["z"][0]) == {"__name__": "z", "brace": "}", "quote": '"', "nl": "\n"}
    assert by_name["y3"][2] == 1_700_000_000.123
    assert math.isnan(float(by_name["y"][1]))


EDGE_OPENMETRICS = """\
# TYPE req counter
# HELP req Requests.
req_total{path="/"} 10 1700000000.25 # {trace_id="a b } c"} 1 1700000000.1
req_created{path="/"} 1699999000
# TYPE lat_seconds histogram
# UNIT lat_seconds seconds
lat_seconds_bucket{le="0.1"} 1 # {trace_id="x"} 0.05
lat_seconds_bucket{le="+Inf"} 2
lat_seconds_count 2
lat_seconds_sum 0.3
# TYPE state stateset
state{state="ok"} 1
# EOF
"""


def test_openmetrics_exemplars_timestamps_and_created() -> None:
    parser = Parser(openmetrics=True)
    samples = {key: (value, ts) for key, value, ts in parser.parse(EDGE_OPENMETRICS)}
    assert samples['req_total{path="/"}'] == (10.0, 1_700_000_000_250)
    assert samples['lat_seconds_bucket{le="0.1"}'] == (1.0, None)
    assert not any("_created" in key for key in samples)  # dropped, like Prometheus
    assert parser.types["lat_seconds"] == "histogram"
    assert parser.units["lat_seconds"] == "seconds"
    assert parser.helps["req"] == "Requests."


def test_created_is_kept_in_the_text_format() -> None:
    text = "# TYPE c_created gauge\nc_created 5\n"
    assert [key for key, _, _ in Parser().parse(text)] == ["c_created"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("m{a=1} 1\n", "invalid label set"),
        ('m{a="1" 1\n', "unclosed|invalid label set"),
        ("m 1 2 3\n", "expected 'name{labels} value"),
        ("m\n", "expected 'name{labels} value"),
        ("m abc\n", "invalid sample value"),
        ("m 1 1.5\n", "invalid timestamp"),
        ('m{a="1",a="2"} 1\n', "duplicate label"),
        ("9m 1\n", "invalid metric name"),
        ("# TYPE m bogus\n", "unknown metric type"),
    ],
)
def test_errors_say_what_and_where(text: str, message: str) -> None:
    def parse_all() -> None:
        parser = Parser(where="http://t/metrics")
        for key, _, _ in parser.parse("ok 1\n" + text):
            parse_series(key, parser.lineno, "http://t/metrics")

    with pytest.raises(ExpositionError, match=message) as info:
        parse_all()
    assert "http://t/metrics:2:" in str(info.value)


def test_openmetrics_requires_eof_and_rejects_free_comments() -> None:
    with pytest.raises(ExpositionError, match="EOF"):
        list(Parser(openmetrics=True).parse("m 1\n"))
    with pytest.raises(ExpositionError, match="unexpected comment"):
        list(Parser(openmetrics=True).parse("# hello\nm 1\n# EOF\n"))


def test_crlf_line_endings() -> None:
    assert list(Parser().parse("a 1\r\nb 2\r\n")) == [("a", 1.0, None), ("b", 2.0, None)]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@pytest.mark.parametrize("seed", range(5))
def test_random_expositions_match_the_oracle(seed: int) -> None:
    """Random label values (quotes, backslashes, newlines, braces, '#', spaces, unicode)
    and values (NaN, infinities, exponents, negatives), text and OpenMetrics."""
    rng = random.Random(seed)
    alphabet = ['"', "\\", "\n", "{", "}", "#", " ", ",", "=", "a", "Z", "9", "é", "☃", "_"]
    # No "-0": prometheus_client reads it as 0, Go's ParseFloat (and we) as -0.0.
    values = ["NaN", "+Inf", "-Inf", "0", "1e-300", "-2.5E+10", "3", "0.1", "123456789"]
    series: dict[str, str] = {}
    seen: set[tuple[str, frozenset[tuple[str, str]]]] = set()
    for i in range(60):
        labels = {
            f"l{j}": "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8)))
            for j in range(rng.randint(0, 3))
        }
        identity = (f"metric_{i % 7}", frozenset((k, v) for k, v in labels.items() if v))
        if identity in seen:
            continue  # one series once: OpenMetrics forbids repeating it
        seen.add(identity)
        inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
        key = f"metric_{i % 7}{{{inner}}}" if labels or rng.random() < 0.5 else f"metric_{i % 7}"
        series[key] = rng.choice(values)
    for openmetrics in (False, True):
        lines = []
        for n in range(7):
            lines.append(f"# TYPE metric_{n} gauge")
            lines.extend(
                f"{key} {value}"
                for key, value in series.items()
                if key.split("{")[0] == f"metric_{n}"
            )
        text = "\n".join(lines) + ("\n# EOF\n" if openmetrics else "\n")
        assert _ours(text, openmetrics=openmetrics) == _oracle(text, openmetrics=openmetrics)
