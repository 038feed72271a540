"""On-disk size for realistic scraped data, once chunks are closed: at most 2 bytes per sample."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from watchkeeper.monitor.model import Matcher
from watchkeeper.monitor.storage import open_storage
from watchkeeper.monitor.storage.synthetic import synthetic_service


def test_realistic_service_needs_at_most_two_bytes_per_sample(tmp_path: Path) -> None:
    # ~9 hours at 15 s of a service with histograms, counters, gauges and jittered scrapes.
    svc = synthetic_service(routes=2, steps=2150)
    rows = svc.values.T.tolist()
    with open_storage(tmp_path) as db:
        for t, row in zip(svc.timestamps.tolist(), rows, strict=True):
            for labels, value in zip(svc.labels, row, strict=True):
                db.append(labels, t, value)
            db.commit()
        db.flush()
        stats = db.stats()
        assert stats["samples_appended"] == svc.samples
        assert stats["head_samples"] == 0
        bytes_per_sample = stats["bytes_on_disk"] / svc.samples
        assert bytes_per_sample <= 2.0, f"{bytes_per_sample:.3f} bytes/sample"
        # And it is all still there, bit for bit.
        i = svc.labels.index(next(lb for lb in svc.labels if dict(lb)["__name__"] == "up"))
        (up,) = db.select([Matcher.of("__name__", "=", "up")], 0, 2**62)
        np.testing.assert_array_equal(up.timestamps, svc.timestamps)
        np.testing.assert_array_equal(up.values, svc.values[i])
        got = {s.labels: s.values for s in db.select([], 0, 2**62)}
        for labels, expected in zip(svc.labels, svc.values, strict=True):
            assert (got[labels].view(np.uint64) == expected.view(np.uint64)).all()
