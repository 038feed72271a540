"""The console's quantiles from one bucket-rate query equal PromQL's own
``histogram_quantile`` over the same data (the engine, evaluated separately)."""

from __future__ import annotations

import math

from watchkeeper.monitor.model import labels_from
from watchkeeper.monitor.server import build_engine
from watchkeeper.monitor.storage import open_storage
from watchkeeper.monitor.web.console.quantiles import quantiles_from_buckets

BUCKETS = ("0.1", "0.5", "1", "+Inf")


def test_same_numbers_as_histogram_quantile(tmp_path: object) -> None:
    db = open_storage(str(tmp_path))
    try:
        for job, slow in (("a", 1), ("b", 3)):
            for k in range(40):
                t = k * 15_000
                counts = [k * 5, k * (6 + slow), k * 9, k * 10]
                for le, c in zip(BUCKETS, counts, strict=True):
                    labels = {"__name__": "h_bucket", "job": job, "le": le}
                    db.append(labels_from(labels), t, float(c))
        db.commit()
        engine = build_engine(db)
        start, end, step = 120_000, 540_000, 30_000
        rates = engine.range_query("sum by (job, le) (rate(h_bucket[1m]))", start, end, step)
        ours = quantiles_from_buckets(rates, start, end, step)
        got = {(dict(s.labels)["job"], dict(s.labels)["q"]): s.points for s in ours.series}
        for q, name in ((0.5, "p50"), (0.95, "p95"), (0.99, "p99")):
            expr = f"histogram_quantile({q}, sum by (job, le) (rate(h_bucket[1m])))"
            for s in engine.range_query(expr, start, end, step).series:
                mine = got[(dict(s.labels)["job"], name)]
                assert len(mine) == len(s.points) > 0
                for (t1, v1), (t2, v2) in zip(mine, s.points, strict=True):
                    assert t1 == t2
                    assert math.isclose(v1, v2, rel_tol=1e-12)
    finally:
        db.close()
