"""The overview's numbers: on raw data (one bucket-rate read per page) they equal the
PromQL the generated dashboards run; where the recording rules have recorded series,
the cards read those, at the rules' own resolution."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from pathlib import Path

from watchkeeper.monitor.model import labels_from
from watchkeeper.monitor.server import build_engine
from watchkeeper.monitor.storage import open_storage
from watchkeeper.monitor.storage.synthetic import synthetic_service
from watchkeeper.monitor.web.console import ConsoleContext
from watchkeeper.monitor.web.console.overview import build_overview
from watchkeeper.monitor.web.console.queries import LATENCY_PANEL
from watchkeeper.monitor.web.console.runner import Runner
from watchkeeper.monitor.web.console.service import build_service
from watchkeeper.monitor.web.console.timerange import View, parse_view
from watchkeeper.monitor.web.deps import ApiDeps

HTTP = "http_server_request_duration_seconds"
END = 1_700_003_600_000


def _deps(path: Path, recorded_for: str = "") -> tuple[ApiDeps, Callable[[], None]]:
    """Deps over 90 minutes of two services' scrapes, and how to close the store."""
    steps = 360  # 90 minutes of 15 s scrapes
    db = open_storage(path)
    for seed, job in enumerate(("api", "web"), start=1):
        svc = synthetic_service(routes=2, steps=steps, start_ms=END - steps * 15_000, seed=seed)
        refs = [db.ref(labels_from(dict(lbl) | {"job": job})) for lbl in svc.labels]
        for i, ts in enumerate(svc.timestamps.tolist()):
            db.append_refs(refs, ts, svc.values[:, i].tolist())
    if recorded_for:  # what the rules engine writes every minute: distinctive constants
        for name, value in (
            ("service:http_server_requests:rate5m", 42.0),
            ("service:http_server_request_errors:ratio_rate5m", 0.25),
            (f"service:{HTTP}:p50_rate5m", 0.01),
            (f"service:{HTTP}:p95_rate5m", 0.02),
            (f"service:{HTTP}:p99_rate5m", 0.03),
        ):
            labels = labels_from({"__name__": name, "job": recorded_for, "service": recorded_for})
            for t in range(END - 5_400_000, END + 1, 60_000):
                db.append(labels, t, value)
    db.commit()
    return ApiDeps(engine=build_engine(db), storage=db, now_ms=lambda: END), db.close


def _instant(deps: ApiDeps, expr: str) -> dict[str, float]:
    return Runner(deps).by(expr, END, "job")


def test_raw_cards_equal_the_dashboards_promql(tmp_path: Path) -> None:
    deps, close = _deps(tmp_path)
    try:
        cards = {
            c.service: c for c in build_overview(ConsoleContext(api=deps), Runner(deps), _view())
        }
        count = f"{HTTP}_count"
        rps = _instant(deps, f"sum by (job) (rate({count}[5m]))")
        bad = _instant(
            deps, f'sum by (job) (rate({count}{{http_response_status_code=~"5.."}}[5m]))'
        )
        p99 = _instant(
            deps, f"histogram_quantile(0.99, sum by (job, le) (rate({HTTP}_bucket[5m])))"
        )
        assert set(cards) == {"api", "web"}
        for job, card in cards.items():
            assert card.rps is not None
            assert math.isclose(card.rps, rps[job], rel_tol=1e-9)
            assert bad.get(job, 0.0) > 0, "the synthetic data has 5xx responses"
            assert card.error_ratio is not None
            assert math.isclose(card.error_ratio, bad[job] / rps[job], rel_tol=1e-9)
            assert card.p99 is not None
            assert math.isclose(card.p99, p99[job], rel_tol=1e-9)
    finally:
        close()


def test_recorded_series_are_read_at_the_rule_interval(tmp_path: Path) -> None:
    deps, close = _deps(tmp_path, recorded_for="api")
    try:
        cards = {
            c.service: c for c in build_overview(ConsoleContext(api=deps), Runner(deps), _view())
        }
        api, web = cards["api"], cards["web"]
        assert (api.rps, api.error_ratio, api.p50, api.p95, api.p99) == (42, 0.25, 0.01, 0.02, 0.03)
        assert web.rps is not None
        assert web.rps != 42
        # One point per rule evaluation (1 m) over the hour: 61, not the 121 of a 30 s step.
        for card in (api, web):
            xs = card.sparks["rps"]["data"][0]
            assert len(xs) == 61
            assert {b - a for a, b in itertools.pairwise(xs)} == {60}
    finally:
        close()


def _view() -> View:
    return parse_view({"range": "1h"}, END)


def test_service_latency_reads_recorded_quantiles_at_the_rule_interval(tmp_path: Path) -> None:
    deps, close = _deps(tmp_path, recorded_for="api")
    try:
        ctx = ConsoleContext(api=deps)
        charts = {}
        for job in ("api", "web"):
            page = build_service(ctx, Runner(deps), _view(), job)
            (latency,) = [c for _, cs in page.sections for c in cs if c.title == LATENCY_PANEL]
            charts[job] = latency
        recorded, raw = charts["api"], charts["web"]
        assert {name: values[-1] for name, values in recorded.series} == {
            "p50": 0.01,
            "p95": 0.02,
            "p99": 0.03,
        }
        assert {b - a for a, b in itertools.pairwise(recorded.xs)} == {60}
        # Without recorded series: from the buckets, at the page's own (scrape) step.
        assert {b - a for a, b in itertools.pairwise(raw.xs)} == {15}
        assert sorted(name for name, _ in raw.series) == ["p50", "p95", "p99"]
    finally:
        close()
