"""``import_openmetrics``: load OpenMetrics text with timestamps into a TSDB.

Accepts exactly what ``promtool tsdb create-blocks-from openmetrics`` accepts
(``# TYPE``/``# HELP``/``# UNIT`` lines, samples with timestamps in seconds,
a final ``# EOF``), so one file can feed both engines in differential tests.
Like promtool 2.42, ``_created`` series are imported as ordinary series.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from watchkeeper.monitor.model import Appendable, Labels
from watchkeeper.monitor.scrape.parser import ExpositionError, Parser, parse_series

__all__ = ["ImportReport", "import_openmetrics"]

_COMMIT_EVERY = 50_000


@dataclass(frozen=True, slots=True)
class ImportReport:
    samples: int
    series: int
    rejected: int  # out of order or duplicate timestamps
    min_time_ms: int | None
    max_time_ms: int | None


def _lines(source: str | Path) -> tuple[Iterator[str], str]:
    """Line iterator and a name for error messages; a str with newlines is the text itself."""
    if isinstance(source, str) and ("\n" in source or source.startswith("#")):
        return iter(source.split("\n")), "<text>"
    path = Path(source)
    if not path.is_file():
        raise ExpositionError(f"{path}: no such file; pass an OpenMetrics file or its text")
    return _file_lines(path), str(path)


def _file_lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8", newline="\n") as fh:
        for line in fh:
            yield line[:-1] if line.endswith("\n") else line


def import_openmetrics(source: str | Path, tsdb: Appendable) -> ImportReport:
    """Parse ``source`` (a path, or the text itself) and append every sample to ``tsdb``.

    Raises ExpositionError naming the line on bad input (samples before it stay imported,
    like promtool). Samples must carry timestamps.
    """
    lines, where = _lines(source)
    parser = Parser(openmetrics=True, where=where, drop_created=False)
    cache: dict[str, Labels] = {}
    samples = rejected = pending = 0
    mint: int | None = None
    maxt: int | None = None
    try:
        for key, value, ts in parser.parse_lines(lines):
            labels = cache.get(key)
            if labels is None:
                labels = cache[key] = parse_series(key, parser.lineno, where)
            if ts is None:
                msg = "sample without a timestamp; every imported sample needs one (seconds)"
                raise ExpositionError(msg, parser.lineno, where)
            if tsdb.append(labels, ts, value):
                samples += 1
                mint = ts if mint is None or ts < mint else mint
                maxt = ts if maxt is None or ts > maxt else maxt
            else:
                rejected += 1
            pending += 1
            if pending >= _COMMIT_EVERY:
                tsdb.commit()
                pending = 0
    finally:
        tsdb.commit()
    return ImportReport(samples, len(cache), rejected, mint, maxt)
