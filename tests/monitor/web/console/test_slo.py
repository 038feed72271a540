from __future__ import annotations

import math
from pathlib import Path

from watchkeeper.monitor.model import labels_from
from watchkeeper.monitor.server import build_engine
from watchkeeper.monitor.storage import open_storage
from watchkeeper.monitor.web.console.runner import Runner
from watchkeeper.monitor.web.console.slo import exhaustion_s, slo_status
from watchkeeper.monitor.web.console.timerange import parse_view
from watchkeeper.monitor.web.deps import ApiDeps
from watchkeeper.spec import load_spec

SPEC = """\
service: api
slos:
  - name: availability
    objective: 99
    sli: {kind: availability}
"""


def test_exhaustion_time_at_the_current_burn() -> None:
    day = 86400
    assert exhaustion_s(0.5, 1.0, 30 * day) == 15 * day  # half the budget at 1x: half a window
    assert exhaustion_s(1.0, 30.0, 30 * day) == day
    assert exhaustion_s(-0.2, 5.0, day) == 0.0  # already spent
    assert exhaustion_s(0.5, 0.0, day) is None  # not at this burn
    assert exhaustion_s(None, 2.0, day) is None


def test_slo_status_from_stored_requests(tmp_path: Path) -> None:
    spec_path = tmp_path / "watchkeeper.yaml"
    spec_path.write_text(SPEC)
    spec = load_spec(spec_path)
    db = open_storage(tmp_path / "data")
    try:
        # 2 h of traffic: 100 requests per 15 s, of which 1 is a 500 (1% errors):
        # exactly the 99% objective's budget, so the burn rate is 1.
        name = "http_server_request_duration_seconds_count"
        ok = labels_from({"__name__": name, "job": "api", "http_response_status_code": "200"})
        bad = labels_from({"__name__": name, "job": "api", "http_response_status_code": "500"})
        steps = 2 * 240
        for k in range(steps + 1):
            db.append(ok, k * 15_000, 99.0 * k)
            db.append(bad, k * 15_000, 1.0 * k)
        db.commit()
        deps = ApiDeps(engine=build_engine(db), storage=db)
        end = steps * 15_000
        view = parse_view({"range": "1h", "end": str(end // 1000)}, end)
        status = slo_status(Runner(deps), spec, spec.slos[0], view)
        assert status.objective == 99.0
        assert status.sli is not None
        assert math.isclose(status.sli, 0.99, rel_tol=1e-9)
        assert status.budget_remaining is not None
        assert math.isclose(status.budget_remaining, 0.0, abs_tol=1e-9)
        assert status.burn_rate is not None
        assert math.isclose(status.burn_rate, 1.0, rel_tol=1e-9)
        assert [b.tier for b in status.burns] == ["page", "page", "ticket", "ticket"]
        assert not any(b.firing for b in status.burns)  # 1x burns below every threshold
        assert status.burns[0].threshold_factor == 14.4
        assert status.chart is not None
        assert not status.chart.empty
    finally:
        db.close()
