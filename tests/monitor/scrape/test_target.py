"""Scraping a real HTTP target on 127.0.0.1: formats, gzip, staleness, failures and limits."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from tests.monitor.scrape.conftest import Target
from watchkeeper.monitor.model import Labels, Matcher, is_stale_nan, labels_from
from watchkeeper.monitor.scrape import ACCEPT_HEADER, TargetConfig, TargetScraper
from watchkeeper.monitor.scrape.target import ScrapeResult
from watchkeeper.monitor.storage import MemoryStorage, open_storage

OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _scrape(scraper: TargetScraper) -> ScrapeResult:
    async def go() -> ScrapeResult:
        async with httpx.AsyncClient() as client:
            return await scraper.scrape(client)

    return asyncio.run(go())


def _series(store: MemoryStorage) -> dict[str, list[tuple[int, float]]]:
    """name{labels} without job/instance -> samples, for short assertions."""
    out = {}
    for labels, (ts, vs) in store._series.items():
        rest = ",".join(f"{k}={v}" for k, v in labels if k not in ("__name__", "job", "instance"))
        out[f"{dict(labels)['__name__']}{{{rest}}}"] = list(zip(ts, vs, strict=True))
    return out


def _value(store: MemoryStorage, name: str) -> float:
    return _series(store)[name + "{}"][-1][1]


def _setup(target: Target, **config: object) -> tuple[MemoryStorage, TargetScraper, FakeClock]:
    store = MemoryStorage()
    clock = FakeClock()
    cfg = TargetConfig("api", target.url, interval_s=15, timeout_s=5, **config)  # type: ignore[arg-type]
    return store, TargetScraper(store, cfg, clock=clock), clock


def test_text_format_with_target_labels_and_synthetic_series(target: Target) -> None:
    target.exposition.body = '# TYPE a counter\na_total{path="/x"} 3\nb 1.5\n'
    store, scraper, clock = _setup(target)
    result = _scrape(scraper)
    assert result.error == ""
    assert (result.samples, result.series_added) == (2, 2)
    instance = target.url.split("/")[2]
    expected: Labels = labels_from(
        {"__name__": "a_total", "path": "/x", "job": "api", "instance": instance}
    )
    assert store._series[expected] == ([1_700_000_000_000], [3.0])
    assert _value(store, "up") == 1.0
    assert _value(store, "scrape_samples_scraped") == 2.0
    assert _value(store, "scrape_samples_post_metric_relabeling") == 2.0
    assert _value(store, "scrape_series_added") == 2.0
    assert _value(store, "scrape_duration_seconds") > 0
    clock.now += 15
    assert _scrape(scraper).series_added == 0
    assert _value(store, "scrape_series_added") == 0.0
    status = scraper.status
    assert (status.health, status.samples, status.last_scrape) == ("up", 2, clock.now)
    assert status.labels == {"job": "api", "instance": instance}
    headers = target.exposition.requests[-1]
    assert headers["Accept"] == ACCEPT_HEADER
    assert "gzip" in headers["Accept-Encoding"]
    assert headers["X-Prometheus-Scrape-Timeout-Seconds"] == "5"


def test_openmetrics_gzip_exemplars_and_created(target: Target) -> None:
    target.exposition.content_type = OPENMETRICS
    target.exposition.gzip = True
    target.exposition.body = (
        "# TYPE req counter\n"
        'req_total{code="200"} 7 # {trace_id="abc"} 1 1700000000.5\n'
        'req_created{code="200"} 1699999999\n'
        "# EOF\n"
    )
    store, scraper, _ = _setup(target)
    assert _scrape(scraper).error == ""
    series = _series(store)
    assert series["req_total{code=200}"] == [(1_700_000_000_000, 7.0)]
    assert not [name for name in series if "created" in name]


def test_vanished_series_get_a_stale_marker(target: Target) -> None:
    target.exposition.body = "a 1\nb 2\n"
    store, scraper, clock = _setup(target)
    _scrape(scraper)
    target.exposition.body = "a 1\n"
    clock.now += 15
    _scrape(scraper)
    (first, second) = _series(store)["b{}"]
    assert first == (1_700_000_000_000, 2.0)
    assert second[0] == 1_700_000_015_000
    assert is_stale_nan(second[1])
    assert len(_series(store)["a{}"]) == 2
    clock.now += 15
    _scrape(scraper)  # only once: no second marker for a series already stale
    assert len(_series(store)["b{}"]) == 2


def test_failed_scrape_marks_everything_stale_and_up_zero(target: Target) -> None:
    target.exposition.body = "a 1\nb 2\n"
    store, scraper, clock = _setup(target)
    _scrape(scraper)
    target.exposition.status = 500
    clock.now += 15
    result = _scrape(scraper)
    assert result.error == "server returned HTTP status 500 Internal Server Error"
    for name in ("a{}", "b{}"):
        assert is_stale_nan(_series(store)[name][-1][1])
    assert _value(store, "up") == 0.0
    assert _value(store, "scrape_samples_scraped") == 0.0
    assert scraper.status.health == "down"
    assert scraper.status.last_error == result.error
    # Recovery: the series come back, up goes to 1.
    target.exposition.status = 200
    clock.now += 15
    assert _scrape(scraper).error == ""
    assert _series(store)["a{}"][-1] == (1_700_000_030_000, 1.0)
    assert _value(store, "up") == 1.0


def test_unreachable_target_is_down() -> None:
    store = MemoryStorage()
    cfg = TargetConfig("api", "http://127.0.0.1:9/metrics", timeout_s=2)
    scraper = TargetScraper(store, cfg, clock=FakeClock())
    result = _scrape(scraper)
    assert result.error.startswith("ConnectError")
    assert _value(store, "up") == 0.0


def test_timeout_fails_the_scrape(target: Target) -> None:
    target.exposition.body = "a 1\n"
    target.exposition.delay_s = 1.0
    store = MemoryStorage()
    cfg = TargetConfig("api", target.url, interval_s=1, timeout_s=0.2)
    result = _scrape(TargetScraper(store, cfg, clock=FakeClock()))
    assert "timed out after 0.2s" in result.error
    assert _value(store, "up") == 0.0


def test_body_size_limit(target: Target) -> None:
    target.exposition.body = "".join(f'm{{i="{i}"}} {i}\n' for i in range(2000))
    target.exposition.gzip = True  # the limit applies to the uncompressed size
    store, scraper, _ = _setup(target, body_limit_bytes=10_000)
    result = _scrape(scraper)
    assert "body size limit exceeded: more than 10000 bytes" in result.error
    assert "body_limit_bytes" in result.error
    assert scraper.status.last_error == result.error
    assert [k for k in _series(store) if k.startswith("m{")] == []
    assert _value(store, "up") == 0.0


def test_series_limit_fails_the_scrape_without_appending(target: Target) -> None:
    target.exposition.body = "a 1\nb 2\n"
    store, scraper, clock = _setup(target, series_limit=3)
    assert _scrape(scraper).error == ""
    target.exposition.body = "a 1\nb 2\nc 3\nd 4\n"
    clock.now += 15
    result = _scrape(scraper)
    assert "series limit exceeded: 4 series, more than 3" in result.error
    series = _series(store)
    assert "c{}" not in series
    assert is_stale_nan(series["a{}"][-1][1])
    assert _value(store, "up") == 0.0


def test_explicit_timestamps_are_kept_and_never_marked_stale(target: Target) -> None:
    target.exposition.body = "a 1 1699999999000\nb 2\n"
    store, scraper, clock = _setup(target)
    _scrape(scraper)
    assert _series(store)["a{}"] == [(1_699_999_999_000, 1.0)]
    target.exposition.body = ""
    clock.now += 15
    _scrape(scraper)
    assert _series(store)["a{}"] == [(1_699_999_999_000, 1.0)]
    assert is_stale_nan(_series(store)["b{}"][-1][1])


def test_parse_error_fails_the_scrape_with_the_line(target: Target) -> None:
    target.exposition.body = "a 1\nb{x=} 2\n"
    store, scraper, _ = _setup(target)
    result = _scrape(scraper)
    assert "invalid label set" in result.error
    assert target.url in result.error
    assert "a{}" not in _series(store)


def test_honor_labels_and_custom_target_labels(target: Target) -> None:
    target.exposition.body = 'm{job="inner",env="dev"} 1\n'
    store, scraper, clock = _setup(target, labels={"env": "prod"})
    _scrape(scraper)
    (labels,) = [lb for lb in store._series if dict(lb)["__name__"] == "m"]
    assert dict(labels)["job"] == "api"
    assert dict(labels)["exported_job"] == "inner"
    assert dict(labels)["env"] == "prod"
    assert dict(labels)["exported_env"] == "dev"
    honoring = TargetScraper(
        store, TargetConfig("api2", target.url, honor_labels=True), clock=clock
    )
    _scrape(honoring)
    jobs = {dict(lb).get("job") for lb in store._series if dict(lb)["__name__"] == "m"}
    assert jobs == {"api", "inner"}


def test_bearer_token_and_headers(target: Target) -> None:
    target.exposition.body = "a 1\n"
    _, scraper, _ = _setup(target, bearer_token="s3cret", headers={"X-Team": "core"})
    _scrape(scraper)
    headers = target.exposition.requests[-1]
    assert headers["Authorization"] == "Bearer s3cret"
    assert headers["X-Team"] == "core"


def test_scrape_into_the_real_store(target: Target, tmp_path: Path) -> None:
    target.exposition.body = "a 1\nb 2\n"
    clock = FakeClock()
    with open_storage(tmp_path) as db:
        scraper = TargetScraper(db, TargetConfig("api", target.url), clock=clock)
        _scrape(scraper)
        target.exposition.body = "a 2\n"
        clock.now += 15
        _scrape(scraper)
        (b,) = db.select([Matcher.of("__name__", "=", "b")], 0, 2**62)
        assert is_stale_nan(float(b.values[-1]))
        (up,) = db.select([Matcher.of("__name__", "=", "up")], 0, 2**62)
        assert up.values.tolist() == [1.0, 1.0]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"url": "127.0.0.1:80"}, "needs a scheme and host"),
        ({"timeout_s": 30.0}, "must not exceed"),
        ({"interval_s": 0.0}, "must be > 0"),
        ({"job": ""}, "job must not be empty"),
    ],
)
def test_config_errors(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"job": "api", "url": "http://127.0.0.1:1/metrics", **kwargs}
    with pytest.raises(ValueError, match=message):
        TargetConfig(**args)  # type: ignore[arg-type]


def test_series_forgotten_by_the_store_are_learned_again(tmp_path: Path) -> None:
    """Retention makes the store forget a vanished series; when it returns, it is stored."""
    from watchkeeper.monitor.storage import TSDB

    text = "text/plain; version=0.0.4"
    cfg = TargetConfig("api", "http://127.0.0.1:1/metrics")
    with TSDB(tmp_path, head_chunk_samples=4, min_cut_samples=1, retention_seconds=600) as db:
        scraper = TargetScraper(db, cfg)
        t = 1_700_000_000_000
        for _ in range(10):
            assert scraper.ingest_text("a 1\nb 2\n", text, t).error == ""
            t += 15_000
        for _ in range(200):  # b vanishes; 50 minutes later its data has expired
            assert scraper.ingest_text("a 1\n", text, t).error == ""
            t += 15_000
        assert db.stats()["series_removed"] >= 1
        assert db.label_values("__name__") == [
            "a",
            "scrape_duration_seconds",
            "scrape_samples_post_metric_relabeling",
            "scrape_samples_scraped",
            "scrape_series_added",
            "up",
        ]
        assert scraper.ingest_text("a 1\nb 3\n", text, t).error == ""
        (b,) = db.select([Matcher.of("__name__", "=", "b")], 0, 2**62)
        assert b.values.tolist() == [3.0]
