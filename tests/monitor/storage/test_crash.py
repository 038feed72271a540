"""Durability: real ``kill -9`` of an ingesting process, torn WAL tails, interrupted checkpoints."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from watchkeeper.monitor.model import labels_from
from watchkeeper.monitor.storage import TSDB, open_storage

T0 = 1_700_000_000_000
SERIES = 200

WRITER = textwrap.dedent(
    """
    import sys
    from watchkeeper.monitor.model import labels_from
    from watchkeeper.monitor.storage import TSDB

    series = [labels_from({{"__name__": "m", "i": str(i)}}) for i in range({series})]
    # Small chunks: the kill also lands during cuts, compactions and WAL checkpoints.
    db = TSDB(sys.argv[1], head_chunk_samples=2, min_cut_samples=1)
    k = 0
    while True:
        for s in series:
            db.append(s, {t0} + k * 1000, float(k))
        db.commit()
        print(k, flush=True)  # acknowledged: it must survive the kill
        k += 1
    """
).format(series=SERIES, t0=T0)


def _ingest_then_kill(data: Path, kill_after: int) -> int:
    """Start the writer, SIGKILL it after ``kill_after`` acknowledged batches; last ack."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[3] / "src")}
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(data)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None
    last = -1
    try:
        for line in proc.stdout:
            last = int(line)
            if last >= kill_after:
                break
        proc.send_signal(signal.SIGKILL)
        # Batches acknowledged while the signal was on its way count too.
        for line in proc.stdout:
            last = int(line)
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    return last


def _check_batches(db: TSDB, acknowledged: int) -> None:
    """Every acknowledged batch is complete; the one in flight is all there or absent."""
    per_series = {s.labels: s for s in db.select([], 0, 2**62)}
    assert len(per_series) == SERIES
    lengths = {len(s.timestamps) for s in per_series.values()}
    assert len(lengths) == 1, f"a batch was torn: series lengths {sorted(lengths)}"
    (n,) = lengths
    assert acknowledged + 1 <= n <= acknowledged + 2
    for s in per_series.values():
        assert s.timestamps.tolist() == [T0 + k * 1000 for k in range(n)]
        assert s.values.tolist() == [float(k) for k in range(n)]


@pytest.mark.parametrize("kill_after", [3, 40, 150])
def test_kill_9_loses_at_most_the_batch_in_flight(tmp_path: Path, kill_after: int) -> None:
    acknowledged = _ingest_then_kill(tmp_path, kill_after)
    with open_storage(tmp_path) as db:
        _check_batches(db, acknowledged)
        # The reopened store keeps working: more appends, then a clean reopen.
        for i in range(SERIES):
            assert db.append(labels_from({"__name__": "m", "i": str(i)}), T0 + 10**9, 1.0)
    with open_storage(tmp_path) as db:
        assert len(list(db.select([], T0 + 10**9, T0 + 10**9))) == SERIES


def test_kill_9_twice_in_a_row(tmp_path: Path) -> None:
    _ingest_then_kill(tmp_path, 30)
    # The second writer appends at timestamps the first already used: all rejected, fine;
    # what matters is that replaying a crashed WAL twice is safe.
    acknowledged = _ingest_then_kill(tmp_path, 10)
    with open_storage(tmp_path) as db:
        n = len(next(iter(db.select([], 0, 2**62))).timestamps)
        assert n >= 31
        assert n > acknowledged


def _write(db: TSDB, batches: range) -> None:
    for k in batches:
        for i in range(5):
            db.append(labels_from({"__name__": "m", "i": str(i)}), T0 + k, float(k))
        db.commit()


def _samples(path: Path) -> list[float]:
    with open_storage(path) as db:
        return [v for s in db.select([], 0, 2**62) for v in s.values.tolist()]


@pytest.mark.parametrize("garbage", [b"\x07", b"\x40\x00\x00\x00\x01\x02", b"\xff" * 30])
def test_torn_wal_tail_is_dropped_and_truncated(tmp_path: Path, garbage: bytes) -> None:
    with open_storage(tmp_path) as db:
        _write(db, range(10))
    (segment, *_) = sorted((tmp_path / "wal").glob("*.seg"), key=lambda p: p.stat().st_size)[::-1]
    with segment.open("ab") as fh:
        fh.write(garbage)
    assert len(_samples(tmp_path)) == 50
    with open_storage(tmp_path) as db:  # new records after the torn one must be readable
        _write(db, range(10, 12))
    assert len(_samples(tmp_path)) == 60


def test_half_written_last_record_is_dropped(tmp_path: Path) -> None:
    with open_storage(tmp_path) as db:
        _write(db, range(3))
    segment = max((tmp_path / "wal").glob("*.seg"), key=lambda p: p.stat().st_size)
    data = segment.read_bytes()
    segment.write_bytes(data[: len(data) - 7])  # cut into the last batch's record
    assert len(_samples(tmp_path)) == 10


def test_torn_series_log_tail_is_tolerated(tmp_path: Path) -> None:
    with open_storage(tmp_path) as db:
        _write(db, range(3))
    with (tmp_path / "series.log").open("ab") as fh:
        fh.write(b"\x10\x00\x00")
    assert len(_samples(tmp_path)) == 15


def test_crash_between_block_write_and_wal_checkpoint(tmp_path: Path) -> None:
    """The WAL still holds samples that are already in a block: no duplicates on replay."""
    with open_storage(tmp_path) as db:
        _write(db, range(20))
        shutil.copytree(tmp_path / "wal", tmp_path / "wal-before")
        db.flush()
    shutil.rmtree(tmp_path / "wal")
    (tmp_path / "wal-before").rename(tmp_path / "wal")
    values = _samples(tmp_path)
    assert len(values) == 100
    assert sorted(set(values)) == [float(k) for k in range(20)]


def test_crash_between_merge_and_deleting_its_sources(tmp_path: Path) -> None:
    with TSDB(tmp_path, min_cut_samples=1) as db:
        for k in range(3):
            _write(db, range(k * 5, k * 5 + 5))
            db.flush()
        sources = sorted((tmp_path / "blocks").glob("*.blk"))
        copies = [(p, p.read_bytes()) for p in sources]
        _write(db, range(15, 20))
        db.flush()  # the fourth level-0 block triggers a merge
        assert db.stats()["compactions"] == 1
    for path, data in copies:  # resurrect the sources, as if deletion never happened
        path.write_bytes(data)
    values = _samples(tmp_path)
    assert len(values) == 100
    assert np.array_equal(np.unique(values), np.arange(20, dtype=np.float64))
    assert len(list((tmp_path / "blocks").glob("*.blk"))) == 1
