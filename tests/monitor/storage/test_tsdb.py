"""TSDB behaviour: round trips through head, blocks, compaction and reopen; append rules."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from watchkeeper.errors import StorageError
from watchkeeper.monitor.model import STALE_NAN, Labels, Matcher, is_stale_nan, labels_from
from watchkeeper.monitor.storage import TSDB, MemoryStorage, open_storage

T0 = 1_700_000_000_000


def _series(i: int, job: str = "api") -> Labels:
    return labels_from({"__name__": "req_total", "job": job, "i": str(i)})


def _all(db: TSDB, *matchers: Matcher) -> dict[Labels, tuple[list[int], list[float]]]:
    return {
        s.labels: (s.timestamps.tolist(), s.values.tolist())
        for s in db.select(list(matchers), -(2**62), 2**62)
    }


def _fill(db: TSDB, series: int, steps: int, start: int = 0) -> None:
    for k in range(start, start + steps):
        for i in range(series):
            assert db.append(_series(i), T0 + k * 15_000 + i % 3, float(k * (i + 1)))
        db.commit()


def test_roundtrip_through_cuts_compaction_and_reopen(tmp_path: Path) -> None:
    kw = {"head_chunk_samples": 4, "min_cut_samples": 1}
    with TSDB(tmp_path, **kw) as db:  # type: ignore[arg-type]
        _fill(db, series=30, steps=150)
        stats = db.stats()
        assert stats["head_cuts"] > 4
        assert stats["compactions"] > 0
        before = _all(db)
    assert len(before) == 30
    ts, vs = before[_series(7)]
    assert ts == [T0 + k * 15_000 + 1 for k in range(150)]
    assert vs == [float(k * 8) for k in range(150)]
    with TSDB(tmp_path, **kw) as db:  # type: ignore[arg-type]
        assert _all(db) == before
        # Appending continues after reopen with the ordering rules intact.
        assert not db.append(_series(7), T0, 1.0)
        _fill(db, series=30, steps=10, start=150)
        assert len(_all(db)[_series(7)][0]) == 160


def test_select_filters_time_range_and_matchers(db: TSDB) -> None:
    _fill(db, series=5, steps=20)
    db.append(labels_from({"__name__": "other", "job": "web"}), T0, 1.0)
    db.commit()
    got = list(db.select([Matcher.of("i", "=~", "1|3")], T0 + 15_000, T0 + 45_001))
    assert [dict(s.labels)["i"] for s in got] == ["1", "3"]
    assert got[0].timestamps.tolist() == [T0 + 15_001, T0 + 30_001, T0 + 45_001]
    (other,) = db.select([Matcher.of("job", "!=", "api")], 0, 2**62)
    assert other.labels[0] == ("__name__", "other")
    # A matcher that accepts the empty string also matches series without the label.
    assert len(list(db.select([Matcher.of("i", "=", "")], 0, 2**62))) == 1
    assert list(db.select([Matcher.of("i", "=", "1")], T0 + 10**9, T0 + 2 * 10**9)) == []
    assert db.label_names() == ["__name__", "i", "job"]
    assert db.label_values("job") == ["api", "web"]
    assert db.label_values("i", [Matcher.of("i", "=~", "[0-2]")]) == ["0", "1", "2"]
    assert db.label_names([Matcher.of("job", "=", "web")]) == ["__name__", "job"]


def test_append_rules_match_prometheus(db: TSDB) -> None:
    s = _series(1)
    assert db.append(s, T0, 1.0)
    assert db.append(s, T0, 1.0)  # exact duplicate: silently accepted, not stored twice
    assert not db.append(s, T0, 2.0)  # same time, different value
    assert not db.append(s, T0 - 1, 1.0)  # out of order
    assert db.append(s, T0 + 1, STALE_NAN)  # a stale marker is a valid value
    assert db.append(s, T0 + 1, STALE_NAN)  # ... and its exact duplicate too (compared by bits)
    assert not db.append(s, T0 + 1, float("nan"))  # a different NaN is a different value
    assert db.append(s, T0 + 2, 0.0)
    assert not db.append(s, T0 + 2, -0.0)  # compared by bits, like Prometheus
    db.commit()
    stats = db.stats()
    assert stats["rejected_duplicate"] == 3
    assert stats["rejected_out_of_order"] == 1
    assert stats["samples_appended"] == 3
    (got,) = db.select([], 0, 2**62)
    assert got.timestamps.tolist() == [T0, T0 + 1, T0 + 2]
    assert is_stale_nan(float(got.values[1]))


def test_append_rules_survive_cut_and_reopen(tmp_path: Path) -> None:
    with TSDB(tmp_path, min_cut_samples=1) as db:
        db.append(_series(1), T0, 5.0)
        db.commit()
        db.flush()
        assert not db.append(_series(1), T0, 6.0)
        assert db.append(_series(1), T0, 5.0)
    with open_storage(tmp_path) as db:
        assert not db.append(_series(1), T0 - 1, 6.0)
        assert not db.append(_series(1), T0, 6.0)
        assert db.append(_series(1), T0 + 1, 6.0)


def test_stale_markers_and_special_values_roundtrip_through_blocks(tmp_path: Path) -> None:
    values = [1.0, STALE_NAN, float("inf"), -0.0, float("-inf"), 2.5, float("nan"), 1e308]
    with open_storage(tmp_path) as db:
        for k, v in enumerate(values):
            db.append(_series(0), T0 + k, v)
        db.commit()
        db.flush()
        (got,) = db.select([], 0, 2**62)
    expected = np.array(values).view(np.uint64)
    assert (got.values.view(np.uint64) == expected).all()


def test_uncommitted_samples_are_invisible(db: TSDB) -> None:
    db.append(_series(1), T0, 1.0)
    assert list(db.select([], 0, 2**62)) == []
    db.commit()
    assert len(list(db.select([], 0, 2**62))) == 1


def test_same_answers_as_memory_storage(tmp_path: Path) -> None:
    """Random appends (including rejected ones) give the same data as the reference store."""
    rng = np.random.default_rng(5)
    ref = MemoryStorage()
    with TSDB(tmp_path, head_chunk_samples=1, min_cut_samples=8) as db:
        for _ in range(3000):
            s = _series(int(rng.integers(0, 12)), job=str(rng.integers(0, 2)))
            t = T0 + int(rng.integers(0, 500)) * 1000
            v = float(rng.integers(0, 5))
            accepted = db.append(s, t, v)
            ts, vs = ref._series.get(s, ([], []))
            if ts and t == ts[-1]:
                assert accepted == (v == vs[-1])
            else:
                assert accepted == ref.append(s, t, v)
            if rng.random() < 0.05:
                db.commit()
        db.commit()
        got = _all(db)
        assert db.stats()["head_cuts"] > 3
        for _ in range(30):  # time windows cutting across blocks and the head
            lo = T0 + int(rng.integers(0, 500)) * 1000
            hi = lo + int(rng.integers(0, 200)) * 1000
            window = [Matcher.of("job", "=", "1")] if rng.random() < 0.5 else []
            ours = [
                (s.labels, s.timestamps.tolist(), s.values.tolist())
                for s in db.select(window, lo, hi)
            ]
            theirs = [
                (s.labels, s.timestamps.tolist(), s.values.tolist())
                for s in ref.select(window, lo, hi)
            ]
            assert ours == theirs
            assert db.series(window, lo, hi) == [labels for labels, _, _ in theirs]
    want = {s.labels: (s.timestamps.tolist(), s.values.tolist()) for s in ref.select([], 0, 2**62)}
    assert got == want


def test_time_retention_drops_oldest_blocks(tmp_path: Path) -> None:
    kw = {"head_chunk_samples": 10, "min_cut_samples": 1, "retention_seconds": 3600.0}
    with TSDB(tmp_path, **kw) as db:  # type: ignore[arg-type]
        _fill(db, series=3, steps=4 * 240)  # 4 hours at 15 s
        stats = db.stats()
        assert stats["blocks_deleted_retention"] > 0
        (first, *_) = db.select([Matcher.of("i", "=", "0")], 0, 2**62)
        newest = int(first.timestamps[-1])
        oldest = int(first.timestamps[0])
    # Everything of the last hour is kept; data older than an hour plus one block is gone.
    assert newest - oldest >= 3600 * 1000
    assert newest - oldest < 3 * 3600 * 1000


def test_size_retention_bounds_bytes_on_disk(tmp_path: Path) -> None:
    limit = 60_000
    kw = {"head_chunk_samples": 10, "min_cut_samples": 1, "retention_bytes": limit}
    rng = np.random.default_rng(1)
    with TSDB(tmp_path, **kw) as db:  # type: ignore[arg-type]
        for k in range(600):  # random floats: ~8 bytes per sample, 96 kB in all
            for i in range(20):
                db.append(_series(i), T0 + k * 15_000, float(rng.random()))
            db.commit()
        stats = db.stats()
        assert stats["blocks_deleted_retention"] > 0
        assert stats["bytes_on_disk"] <= limit
        # The newest data survives; the oldest went first.
        (series,) = db.select([Matcher.of("i", "=", "0")], 0, 2**62)
        assert int(series.timestamps[-1]) == T0 + 599 * 15_000
        assert int(series.timestamps[0]) > T0


def test_a_data_dir_is_locked_to_one_process(tmp_path: Path) -> None:
    with open_storage(tmp_path), pytest.raises(StorageError, match="in use"):
        open_storage(tmp_path)


def test_closed_storage_raises_a_clear_error(tmp_path: Path) -> None:
    db = open_storage(tmp_path)
    db.close()
    db.close()  # idempotent
    with pytest.raises(StorageError, match="closed"):
        list(db.select([], 0, 1))


def test_corrupt_block_is_reported_with_its_path(tmp_path: Path) -> None:
    with open_storage(tmp_path) as db:
        db.append(_series(0), T0, 1.0)
        db.commit()
        db.flush()
    (block,) = (tmp_path / "blocks").glob("*.blk")
    block.write_bytes(b"garbage" * 10)
    with pytest.raises(StorageError, match=r"corrupt block"):
        open_storage(tmp_path)
    block.unlink()  # the fix the message suggests; the directory is not left locked
    with open_storage(tmp_path) as db:
        assert db.stats()["series"] == 1


def test_stats_names_for_metrics(db: TSDB) -> None:
    _fill(db, series=2, steps=3)
    stats = db.stats()
    for key in ("series", "samples_appended", "head_series", "bytes_on_disk", "head_chunks"):
        assert isinstance(stats[key], float)
    assert stats["series"] == 2
    assert stats["samples_appended"] == 6
    assert stats["bytes_on_disk"] > 0


def test_label_values_are_stored_exactly(db: TSDB) -> None:
    weird = labels_from({"__name__": "m", "v": 'quote" back\\slash\nnew line é \xff', "z": "x"})
    db.append(weird, T0, 1.0)
    db.commit()
    db.flush()
    assert [s.labels for s in db.select([], 0, 2**62)] == [weird]


def test_one_writer_and_concurrent_readers(tmp_path: Path) -> None:
    """Readers always see whole commits while a writer ingests, cuts and compacts."""
    errors: list[BaseException] = []
    done = threading.Event()
    with TSDB(tmp_path, head_chunk_samples=2, min_cut_samples=1) as db:

        def read() -> None:
            try:
                while not done.is_set():
                    got = list(db.select([Matcher.of("__name__", "=", "req_total")], 0, 2**62))
                    lengths = {len(s.timestamps) for s in got}
                    assert len(lengths) <= 1, f"a commit seen half-done: {lengths}"
                    db.label_values("i")
                    db.stats()
            except BaseException as exc:  # reported to the main thread below
                errors.append(exc)

        readers = [threading.Thread(target=read) for _ in range(2)]
        for r in readers:
            r.start()
        try:
            _fill(db, series=20, steps=200)
        finally:
            done.set()
            for r in readers:
                r.join()
        assert db.stats()["compactions"] > 0
    assert errors == []


def test_fsync_mode_roundtrip(tmp_path: Path) -> None:
    with open_storage(tmp_path, fsync=True) as db:
        _fill(db, series=3, steps=5)
        db.flush()
        _fill(db, series=3, steps=2, start=5)
    with open_storage(tmp_path) as db:
        assert [len(v[0]) for v in _all(db).values()] == [7, 7, 7]


@pytest.mark.parametrize("kwargs", [{"retention_seconds": 0}, {"retention_bytes": -1}])
def test_bad_retention_is_a_clear_error(tmp_path: Path, kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be > 0"):
        open_storage(tmp_path, **kwargs)  # type: ignore[arg-type]


def test_series_whose_data_expired_are_forgotten(tmp_path: Path) -> None:
    kw = {"head_chunk_samples": 10, "min_cut_samples": 1, "retention_seconds": 3600.0}
    churned = labels_from({"__name__": "req_total", "pod": "old"})
    with TSDB(tmp_path, **kw) as db:  # type: ignore[arg-type]
        old_ref = db.ref(churned)
        for k in range(40):
            db.append(churned, T0 + k * 15_000, 1.0)
            db.commit()
        # Only the steady series lives on, for 3 hours: the old pod's data expires.
        _fill(db, series=2, steps=3 * 240, start=40)
        stats = db.stats()
        assert stats["series_removed"] == 1
        assert stats["series"] == 2
        assert db.ref_generation >= 1
        assert db.label_values("pod") == []
        with pytest.raises(KeyError, match="removed"):
            db.labels_of(old_ref)
        # The same labels may come back: a new series, ingested normally.
        assert db.append(churned, T0 + 10**8, 2.0)
        db.commit()
        assert db.ref(churned) != old_ref
    with open_storage(tmp_path, retention_seconds=3600.0) as db:
        assert db.stats()["series"] == 3
        assert db.label_values("pod") == ["old"]
        (back,) = db.select([Matcher.of("pod", "=", "old")], 0, 2**62)
        assert back.values.tolist() == [2.0]
        assert len(_all(db, Matcher.of("i", "=", "1"))[_series(1)][0]) > 0
