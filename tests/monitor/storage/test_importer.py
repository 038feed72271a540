"""import_openmetrics: the same file feeds watchkeeper and promtool."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from watchkeeper.monitor.model import Matcher, is_stale_nan
from watchkeeper.monitor.scrape.parser import ExpositionError
from watchkeeper.monitor.storage import TSDB, import_openmetrics

TEXT = """\
# HELP http_requests Requests served.
# TYPE http_requests counter
http_requests_total{code="200",path="/a b"} 1 1700000000
http_requests_total{code="200",path="/a b"} 5 1700000015.5
http_requests_total{code="500",path="/a b"} 0 1700000000
http_requests_created{code="200",path="/a b"} 1699999000 1700000000
# TYPE temperature_celsius gauge
# UNIT temperature_celsius celsius
temperature_celsius{room="say \\"hi\\"\\n"} -3.5 1700000000.001
temperature_celsius{room="say \\"hi\\"\\n"} NaN 1700000030
temperature_celsius{room="say \\"hi\\"\\n"} +Inf 1700000045
# EOF
"""


def test_import_text_and_query(db: TSDB) -> None:
    report = import_openmetrics(TEXT, db)
    assert report.samples == 7
    assert report.series == 4
    assert report.rejected == 0
    assert report.min_time_ms == 1_700_000_000_000
    assert report.max_time_ms == 1_700_000_045_000
    got = {s.labels: s for s in db.select([Matcher.of("path", "=", "/a b")], 0, 2**62)}
    ok = (("__name__", "http_requests_total"), ("code", "200"), ("path", "/a b"))
    assert got[ok].timestamps.tolist() == [1_700_000_000_000, 1_700_000_015_500]
    assert got[ok].values.tolist() == [1.0, 5.0]
    (temp,) = db.select([Matcher.of("__name__", "=", "temperature_celsius")], 0, 2**62)
    assert dict(temp.labels)["room"] == 'say "hi"\n'
    # Seconds -> ms truncates exactly like Prometheus: int64(1700000000.001 * 1000).
    assert temp.timestamps.tolist()[0] == int(1700000000.001 * 1000)
    assert not is_stale_nan(float(temp.values[1]))
    # Like promtool 2.42, the importer keeps _created series (scrapes drop them).
    assert "http_requests_created" in db.label_values("__name__")


def test_import_from_a_file(tmp_path: Path, db: TSDB) -> None:
    path = tmp_path / "data.om"
    path.write_text(TEXT)
    assert import_openmetrics(path, db).samples == 7


def test_out_of_order_samples_are_counted_not_fatal(db: TSDB) -> None:
    text = "# TYPE g gauge\ng 1 20\ng 2 10\ng 3 20\ng 3 30\n# EOF\n"
    report = import_openmetrics(text, db)
    assert (report.samples, report.rejected) == (2, 2)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("# TYPE g gauge\ng 1\n# EOF\n", 2, "without a timestamp"),
        ('# TYPE g gauge\ng{a="x} 1 1\n# EOF\n', 2, "invalid label set"),
        ("# TYPE g gauge\ng 1 x\n# EOF\n", 2, "invalid timestamp"),
        ("# TYPE g gauge\ng one 1\n# EOF\n", 2, "invalid sample value"),
        ("# TYPE g gauge\ng 1 1\n", 3, "must end with '# EOF'"),
        ("# TYPE g gauge\n# UNIT g seconds\n# EOF\n", 2, "not a suffix"),
        ("# TYPE g gauge\n# EOF\ng 1 1\n", 3, "after '# EOF'"),
        ("# TYPE g nonsense\n# EOF\n", 1, "unknown metric type"),
    ],
)
def test_bad_input_names_the_line(db: TSDB, text: str, line: int, message: str) -> None:
    with pytest.raises(ExpositionError, match=message) as info:
        import_openmetrics(text, db)
    assert info.value.line == line
    assert f"<text>:{line}:" in str(info.value)


def test_missing_file_is_a_clear_error(db: TSDB, tmp_path: Path) -> None:
    with pytest.raises(ExpositionError, match="no such file"):
        import_openmetrics(tmp_path / "nope.om", db)


def _promtool_dump(data: Path) -> set[tuple[tuple[tuple[str, str], ...], int, str]]:
    (data / "wal").mkdir(exist_ok=True)  # promtool dump insists on a WAL directory
    out = subprocess.run(
        ["promtool", "tsdb", "dump", str(data)], capture_output=True, text=True, check=True
    )
    rows = set()
    for line in out.stdout.splitlines():
        labels_text, value, ts = line.rsplit(" ", 2)
        pairs = re.findall(r'([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"', labels_text)
        labels = tuple(sorted((k, json.loads(f'"{v}"')) for k, v in pairs))
        rows.add((labels, int(ts), repr(float(value))))
    return rows


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_promtool_reads_the_same_file_into_the_same_samples(tmp_path: Path, db: TSDB) -> None:
    path = tmp_path / "data.om"
    path.write_text(TEXT)
    blocks = tmp_path / "prom"
    out = subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", str(path), str(blocks)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    import_openmetrics(path, db)
    ours = {
        (s.labels, t, repr(v))
        for s in db.select([], 0, 2**62)
        for t, v in zip(s.timestamps.tolist(), s.values.tolist(), strict=True)
    }
    assert ours == _promtool_dump(blocks)
