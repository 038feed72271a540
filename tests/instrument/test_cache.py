"""The generic cache API: record_hit / record_miss, bounded cache names."""

from __future__ import annotations

import watchkeeper
from tests.instrument.conftest import value, values
from watchkeeper.instrument import cache
from watchkeeper.instrument.registry import Registry

HITS = "cache_requests_total"


def test_hits_and_misses_give_the_ratio_the_alert_divides(registry: Registry) -> None:
    for _ in range(4):
        cache.record_hit("sessions", registry=registry)
    cache.record_miss("sessions", registry=registry)
    cache.record_hit("sessions", 5, registry=registry)
    assert value(registry, HITS, cache="sessions", result="hit") == 9
    assert value(registry, HITS, cache="sessions", result="miss") == 1
    hits = value(registry, HITS, cache="sessions", result="hit")
    assert hits / sum(values(registry, HITS, cache="sessions")) == 0.9


def test_default_name_and_public_namespace(registry: Registry) -> None:
    watchkeeper.cache.record_miss(registry=registry)
    assert value(registry, HITS, cache="default", result="miss") == 1
    # A name's first use exports both results, so rate() sees a 0, not a gap.
    assert value(registry, HITS, cache="default", result="hit") == 0


def test_cache_names_are_bounded(registry: Registry) -> None:
    for i in range(cache.MAX_CACHES + 30):
        cache.record_hit(f"user-{i}", registry=registry)
    names = {dict(k[1]).get("cache") for k in _keys(registry) if k[0] == HITS}
    assert len(names) == cache.MAX_CACHES + 1
    assert value(registry, HITS, cache="_other", result="hit") == 30


def test_bad_input_is_contained(registry: Registry) -> None:
    cache.record_hit("", registry=registry)  # folds into _other
    cache.record_hit("x" * 500, registry=registry)
    cache.record_miss("ok", -1, registry=registry)  # counters only go up: reported
    assert value(registry, HITS, cache="_other", result="hit") == 2
    assert value(registry, HITS, cache="ok", result="miss") == 0
    assert value(registry, "watchkeeper_internal_errors_total", component="cache.record") == 1


def _keys(registry: Registry) -> list[tuple[str, frozenset[tuple[str, str]]]]:
    from tests.instrument.conftest import parse
    from watchkeeper.instrument.exposition import render

    return list(parse(render(registry)))
