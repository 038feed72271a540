"""The HTTP API's shapes, status codes and errors, against a stub engine and MemoryStorage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from tests.support.asgi import ASGIClient
from watchkeeper.errors import QueryError
from watchkeeper.monitor.model import Labels, Matcher, labels_from
from watchkeeper.monitor.promql.value import Matrix, Sample, Scalar, Series, Value, Vector
from watchkeeper.monitor.storage.memory import MemoryStorage
from watchkeeper.monitor.web.api import ApiDeps, create_api
from watchkeeper.monitor.web.targets import TargetView

UP_API = labels_from({"__name__": "up", "job": "api", "instance": "a:1"})
UP_DB = labels_from({"__name__": "up", "job": "db", "instance": "b:2"})


@dataclass
class StubEngine:
    """Records calls; answers ``1`` as a scalar, ``up`` as a vector, errors on demand."""

    calls: list[tuple[object, ...]] = field(default_factory=list)

    def _fail(self, expr: str) -> None:
        for kind in ("bad_data", "execution", "timeout", "canceled"):
            if expr == f"fail_{kind}":
                raise QueryError(f"{kind} happened", kind)
        if expr == "crash":
            raise IndexError("index 3 is out of bounds")

    def instant_query(self, expr: str, time_ms: int) -> Value:
        self.calls.append(("instant", expr, time_ms))
        self._fail(expr)
        if expr == "up":
            return Vector([Sample(UP_API, time_ms, 1.0)])
        return Scalar(time_ms, 1.0)

    def range_query(self, expr: str, start_ms: int, end_ms: int, step_ms: int) -> Matrix:
        self.calls.append(("range", expr, start_ms, end_ms, step_ms))
        self._fail(expr)
        points = [(t, 0.5) for t in range(start_ms, end_ms + 1, step_ms)]
        return Matrix([Series(UP_API, points)])


@dataclass(frozen=True)
class FakeTarget:
    job: str = "api"
    instance: str = "127.0.0.1:8000"
    url: str = "http://127.0.0.1:8000/metrics"
    health: str = "up"
    last_scrape: datetime | float | None = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    last_duration_s: float = 0.012
    last_error: str | None = None
    labels: Labels = (("instance", "127.0.0.1:8000"), ("job", "api"))
    interval_s: float = 15.0
    timeout_s: float = 10.0


@pytest.fixture
def engine() -> StubEngine:
    return StubEngine()


@pytest.fixture
def client(engine: StubEngine) -> ASGIClient:
    storage = MemoryStorage()
    for labels in (UP_API, UP_DB):
        storage.append(labels, 1_000_000, 1.0)
    storage.append(labels_from({"__name__": "other", "zone": "eu"}), 1_000_000, 2.0)
    targets: list[TargetView] = [FakeTarget()]
    deps = ApiDeps(engine=engine, storage=storage, targets=lambda: targets, now_ms=lambda: 42_000)
    return ASGIClient(create_api(deps))


def test_instant_query_vector(client: ASGIClient, engine: StubEngine) -> None:
    r = client.get("/api/v1/query", params={"query": "up", "time": "1000.5"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [
                {
                    "metric": {"__name__": "up", "instance": "a:1", "job": "api"},
                    "value": [1000.5, "1"],
                }
            ],
        },
    }
    assert engine.calls == [("instant", "up", 1_000_500)]


def test_instant_query_defaults_to_now(client: ASGIClient, engine: StubEngine) -> None:
    r = client.get("/api/v1/query", params={"query": "1"})
    assert r.json()["data"] == {"resultType": "scalar", "result": [42, "1"]}


def test_query_post_form(client: ASGIClient, engine: StubEngine) -> None:
    r = client.post("/api/v1/query", data={"query": "up", "time": "2015-07-01T20:10:51.781Z"})
    assert r.status_code == 200
    assert engine.calls == [("instant", "up", 1_435_781_451_781)]


def test_query_range(client: ASGIClient, engine: StubEngine) -> None:
    r = client.post(
        "/api/v1/query_range", data={"query": "x", "start": "0", "end": "30", "step": "15s"}
    )
    assert r.status_code == 200
    assert r.json()["data"] == {
        "resultType": "matrix",
        "result": [
            {
                "metric": {"__name__": "up", "instance": "a:1", "job": "api"},
                "values": [[0, "0.5"], [15, "0.5"], [30, "0.5"]],
            }
        ],
    }
    assert engine.calls == [("range", "x", 0, 30_000, 15_000)]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start": "10", "end": "0", "step": "1"}, "end timestamp must not be before start time"),
        ({"start": "0", "end": "10", "step": "0"}, "zero or negative query resolution step"),
        ({"start": "0", "end": "100000", "step": "1"}, "exceeded maximum resolution of 11,000"),
        ({"start": "x", "end": "10", "step": "1"}, 'invalid parameter "start": cannot parse "x"'),
        ({"start": "0", "end": "10", "step": "soon"}, 'invalid parameter "step": cannot parse'),
        ({"end": "10", "step": "1"}, 'invalid parameter "start"'),
    ],
)
def test_query_range_bad_params(client: ASGIClient, params: dict[str, str], message: str) -> None:
    r = client.get("/api/v1/query_range", params={"query": "up", **params})
    assert r.status_code == 400
    body = r.json()
    assert body["status"] == "error"
    assert body["errorType"] == "bad_data"
    assert message in body["error"]


@pytest.mark.parametrize(
    ("kind", "status"), [("bad_data", 400), ("execution", 422), ("timeout", 503), ("canceled", 503)]
)
def test_query_errors_map_to_prometheus_status(client: ASGIClient, kind: str, status: int) -> None:
    for path, extra in (
        ("/api/v1/query", {}),
        ("/api/v1/query_range", {"start": "0", "end": "1", "step": "1"}),
    ):
        r = client.get(path, params={"query": f"fail_{kind}", **extra})
        assert r.status_code == status
        assert r.json() == {"status": "error", "errorType": kind, "error": f"{kind} happened"}


def test_series(client: ASGIClient) -> None:
    r = client.get("/api/v1/series", params={"match[]": ["up", 'other{zone="eu"}']})
    assert r.json() == {
        "status": "success",
        "data": [
            {"__name__": "other", "zone": "eu"},
            {"__name__": "up", "instance": "a:1", "job": "api"},
            {"__name__": "up", "instance": "b:2", "job": "db"},
        ],
    }
    r = client.get("/api/v1/series", params={"match[]": "up", "start": "2000"})
    assert r.json()["data"] == []


def test_series_needs_match(client: ASGIClient) -> None:
    r = client.get("/api/v1/series")
    assert r.status_code == 400
    assert r.json()["error"] == "no match[] parameter provided"
    r = client.post("/api/v1/series", data={"match[]": "up{"})
    assert r.status_code == 400
    assert r.json()["errorType"] == "bad_data"


def test_labels_and_values(client: ASGIClient) -> None:
    assert client.get("/api/v1/labels").json()["data"] == ["__name__", "instance", "job", "zone"]
    r = client.post("/api/v1/labels", data={"match[]": "other"})
    assert r.json()["data"] == ["__name__", "zone"]
    r = client.get("/api/v1/label/job/values")
    assert r.json() == {"status": "success", "data": ["api", "db"]}
    r = client.get("/api/v1/label/__name__/values", params={"match[]": '{job="db"}'})
    assert r.json()["data"] == ["up"]
    assert client.get("/api/v1/label/nope/values").json()["data"] == []
    r = client.get("/api/v1/label/bad-name/values")
    assert r.status_code == 400
    assert r.json()["error"] == 'invalid label name: "bad-name"'


def test_targets(client: ASGIClient) -> None:
    r = client.get("/api/v1/targets")
    assert r.json() == {
        "status": "success",
        "data": {
            "activeTargets": [
                {
                    "discoveredLabels": {
                        "__address__": "127.0.0.1:8000",
                        "__scheme__": "http",
                        "job": "api",
                    },
                    "labels": {"instance": "127.0.0.1:8000", "job": "api"},
                    "scrapePool": "api",
                    "scrapeUrl": "http://127.0.0.1:8000/metrics",
                    "globalUrl": "http://127.0.0.1:8000/metrics",
                    "lastError": "",
                    "lastScrape": "2026-01-02T03:04:05Z",
                    "lastScrapeDuration": 0.012,
                    "health": "up",
                    "scrapeInterval": "15s",
                    "scrapeTimeout": "10s",
                }
            ],
            "droppedTargets": [],
        },
    }
    assert client.get("/api/v1/targets?state=dropped").json()["data"]["activeTargets"] == []


def test_buildinfo_health_ready_metrics(client: ASGIClient) -> None:
    info = client.get("/api/v1/status/buildinfo").json()["data"]
    assert set(info) >= {"version", "revision", "branch", "buildUser", "buildDate", "goVersion"}
    assert info["version"] == "2.42.0"  # what Grafana keys its Prometheus features on
    assert info["application"] == "watchkeeper"
    assert client.get("/-/healthy").status_code == 200
    assert client.get("/-/ready").status_code == 200
    client.get("/api/v1/query", params={"query": "up"})
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert 'watchkeeper_query_duration_seconds_count{endpoint="query"} 1.0' in metrics.text


def test_not_ready() -> None:
    deps = ApiDeps(engine=StubEngine(), storage=MemoryStorage(), ready=lambda: False)
    assert ASGIClient(create_api(deps)).get("/-/ready").status_code == 503


def test_rules_and_alerts_from_deps() -> None:
    groups = [
        {
            "name": "g",
            "file": "rules.yaml",
            "rules": [{"type": "alerting", "name": "A"}, {"type": "recording", "name": "r"}],
        }
    ]
    deps = ApiDeps(
        engine=StubEngine(),
        storage=MemoryStorage(),
        rule_groups=lambda: groups,
        alerts=lambda: [{"labels": {"alertname": "A"}, "state": "firing"}],
    )
    client = ASGIClient(create_api(deps))
    assert client.get("/api/v1/rules").json()["data"] == {"groups": groups}
    only_alerts = client.get("/api/v1/rules?type=alert").json()["data"]["groups"][0]["rules"]
    assert only_alerts == [{"type": "alerting", "name": "A"}]
    assert client.get("/api/v1/rules?type=x").status_code == 400
    alerts = client.get("/api/v1/alerts").json()["data"]["alerts"]
    assert alerts[0]["state"] == "firing"


def test_rules_and_alerts_default_to_empty(client: ASGIClient) -> None:
    assert client.get("/api/v1/rules").json() == {"status": "success", "data": {"groups": []}}
    assert client.get("/api/v1/alerts").json() == {"status": "success", "data": {"alerts": []}}
    assert client.get("/api/v1/metadata").json() == {"status": "success", "data": {}}


def test_optional_time_errors_read_like_prometheus(client: ASGIClient) -> None:
    r = client.get("/api/v1/query", params={"query": "up", "time": "abc"})
    assert r.status_code == 400
    assert r.json()["error"] == (
        "invalid parameter \"time\": Invalid time value for 'time': "
        'cannot parse "abc" to a valid timestamp'
    )


def test_series_uses_a_stores_series_listing() -> None:
    calls: list[tuple[int, int]] = []

    class ListingStorage(MemoryStorage):
        def series(self, matchers: Sequence[Matcher], mint_ms: int, maxt_ms: int) -> list[Labels]:
            calls.append((mint_ms, maxt_ms))
            return [UP_DB, UP_API]

    client = ASGIClient(create_api(ApiDeps(engine=StubEngine(), storage=ListingStorage())))
    r = client.get("/api/v1/series", params={"match[]": "up", "start": "1", "end": "2"})
    assert r.json()["data"] == [dict(UP_API), dict(UP_DB)]
    assert calls == [(1000, 2000)]


def test_evaluator_bugs_answer_as_internal_errors(
    client: ASGIClient, caplog: pytest.LogCaptureFixture
) -> None:
    r = client.get("/api/v1/query", params={"query": "crash"})
    assert r.status_code == 500
    body = r.json()
    assert body["errorType"] == "internal"
    assert body["error"].startswith("IndexError: index 3 is out of bounds")
    assert "query failed unexpectedly" in caplog.text


def test_labels_and_values_with_match_honour_the_time_range() -> None:
    storage = MemoryStorage()
    storage.append(UP_API, 1_000_000, 1.0)  # only early
    storage.append(UP_DB, 5_000_000, 1.0)  # only late
    client = ASGIClient(create_api(ApiDeps(engine=StubEngine(), storage=storage)))
    late = {"match[]": "up", "start": "4000", "end": "6000"}
    assert client.get("/api/v1/label/job/values", params=late).json()["data"] == ["db"]
    assert client.get("/api/v1/labels", params=late).json()["data"] == [
        "__name__",
        "instance",
        "job",
    ]
    early = {"match[]": 'up{job="db"}', "start": "0", "end": "2000"}
    assert client.get("/api/v1/labels", params=early).json()["data"] == []
    # Without match[] the index answers over all time (cheap, may include old series).
    assert client.get("/api/v1/label/job/values", params={"start": "4000"}).json()["data"] == [
        "api",
        "db",
    ]
