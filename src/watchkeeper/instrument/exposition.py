"""Rendering a registry as Prometheus text 0.0.4 or OpenMetrics 1.0, with negotiation and gzip.

The application holds the GIL while it renders, so a scrape steals request time:
this path is built to be fast. Every child caches its line prefixes at creation, so
rendering is a value format and a string join per sample (see benchmarks/).
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable
from typing import Any

from watchkeeper.instrument.metrics import (
    UPDATE_LOCK,
    Counter,
    Family,
    Gauge,
    Histogram,
    escape_label_value,
)
from watchkeeper.instrument.registry import MetricFamily, Registry

__all__ = [
    "CONTENT_TYPE_OPENMETRICS",
    "CONTENT_TYPE_TEXT",
    "choose_format",
    "encode_body",
    "render",
    "render_families",
]

CONTENT_TYPE_TEXT = "text/plain; version=0.0.4; charset=utf-8"
CONTENT_TYPE_OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"
_GZIP_MIN_BYTES = 1024


def choose_format(accept: str) -> tuple[str, bool]:
    """(content type, is_openmetrics) for an Accept header, as Prometheus negotiates it."""
    if "application/openmetrics-text" in accept:
        # Honour q=0 (explicitly refused); otherwise a scraper that lists it wants it.
        for part in accept.split(","):
            media, _, params = part.strip().partition(";")
            if media.strip() == "application/openmetrics-text":
                if "q=0" in params.replace(" ", "") and "q=0." not in params.replace(" ", ""):
                    return CONTENT_TYPE_TEXT, False
                return CONTENT_TYPE_OPENMETRICS, True
    return CONTENT_TYPE_TEXT, False


def encode_body(text: str, accept_encoding: str) -> tuple[bytes, str | None]:
    """UTF-8 bytes, gzipped when the client accepts it and it is worth it."""
    data = text.encode()
    if "gzip" in accept_encoding and len(data) >= _GZIP_MIN_BYTES:
        return gzip.compress(data, compresslevel=1), "gzip"
    return data, None


def _fmt(value: float) -> str:
    # repr() is the shortest round-tripping form; only inf/nan need Go's spelling.
    text = repr(value)
    if text[-1] in "fn":
        if value != value:
            return "NaN"
        return "+Inf" if value > 0 else "-Inf"
    return text


def _escape_help(text: str, openmetrics: bool) -> str:
    text = text.replace("\\", "\\\\").replace("\n", "\\n")
    return text.replace('"', '\\"') if openmetrics else text


def _header(out: list[str], name: str, mtype: str, doc: str, openmetrics: bool) -> None:
    out.append(f"# HELP {name} {_escape_help(doc, openmetrics)}\n# TYPE {name} {mtype}\n")


def _render_family(out: list[str], family: Family[Any], openmetrics: bool) -> None:
    children = [child for _, child in family.children()]
    if isinstance(family, Counter):
        # Text 0.0.4 names the counter family with _total (promtool lints for it);
        # OpenMetrics names the family without and the samples with it.
        name = family.name if openmetrics else family.name + "_total"
        _header(out, name, "counter", family.documentation, openmetrics)
        out.extend([f"{c.line}{_fmt(c.value)}\n" for c in children])
    elif isinstance(family, Gauge):
        _header(out, family.name, "gauge", family.documentation, openmetrics)
        out.extend([f"{c.line}{_fmt(c.value)}\n" for c in children])
    elif isinstance(family, Histogram):
        _header(out, family.name, "histogram", family.documentation, openmetrics)
        for c in children:
            with UPDATE_LOCK:  # a consistent copy: count must equal the +Inf bucket
                counts = list(c.counts)
                total_sum = c.sum
                exemplars = list(c.exemplars) if openmetrics and c.exemplars else None
            running = 0
            if exemplars is None:
                for line, n in zip(c.lines, counts, strict=True):
                    running += n
                    out.append(f"{line}{running}\n")
            else:  # only OpenMetrics has exemplars: `bucket 3 # {trace_id="…"} 0.07 1.7e9`
                for line, n, ex in zip(c.lines, counts, exemplars, strict=True):
                    running += n
                    if ex is None:
                        out.append(f"{line}{running}\n")
                    else:
                        out.append(f"{line}{running} # {{{ex[0]}}} {_fmt(ex[1])} {ex[2]:.3f}\n")
            out.append(f"{c.count_line}{running}\n{c.sum_line}{_fmt(total_sum)}\n")


_TEXT_TYPES = {
    "info": "gauge",
    "stateset": "gauge",
    "unknown": "untyped",
    "gaugehistogram": "histogram",
}


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{escape_label_value(v)}"' for k, v in labels.items())
    return "{" + inner + "}"


def render_families(out: list[str], families: Iterable[MetricFamily], openmetrics: bool) -> None:
    """Render families in generic form (collectors, merged multiprocess data)."""
    for fam in families:
        mtype = fam.type
        name = fam.name
        if openmetrics:
            if mtype == "untyped":
                mtype = "unknown"
            if mtype == "counter" and name.endswith("_total"):
                name = name[: -len("_total")]
        else:
            mtype = _TEXT_TYPES.get(mtype, mtype)
            if mtype == "counter" and not name.endswith("_total"):
                name += "_total"
        _header(out, name, mtype, fam.documentation, openmetrics)
        out.extend(f"{s.name}{_labels(s.labels)} {_fmt(s.value)}\n" for s in fam.samples)


def render(
    registry: Registry,
    openmetrics: bool = False,
    *,
    families: Iterable[MetricFamily] | None = None,
) -> str:
    """The whole exposition of ``registry``.

    With ``families`` (a merged multiprocess view) those are rendered instead of the
    registry's live children.
    """
    out: list[str] = []
    if families is None:
        registry.prepare()
        for family in registry.families():
            _render_family(out, family, openmetrics)
        render_families(out, registry.collect_extra(), openmetrics)
    else:
        render_families(out, families, openmetrics)
    if openmetrics:
        out.append("# EOF\n")
    return "".join(out)
