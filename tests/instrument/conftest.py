"""Shared fixtures: a fresh registry per test and a reader that parses the exposition
with prometheus_client's parser (an independent oracle of our output)."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from watchkeeper.instrument.exposition import render
from watchkeeper.instrument.registry import Registry

Key = tuple[str, frozenset[tuple[str, str]]]


def parse(text: str) -> dict[Key, float]:
    """Every sample of a text exposition, keyed by (sample name, label set)."""
    out: dict[Key, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def values(registry: Registry, name: str, **labels: str) -> list[float]:
    """Values of samples named ``name`` whose labels include ``labels``."""
    want = set(labels.items())
    return [v for (n, lab), v in parse(render(registry)).items() if n == name and want <= lab]


def value(registry: Registry, name: str, **labels: str) -> float:
    found = values(registry, name, **labels)
    assert len(found) == 1, f"expected one {name}{labels}, found {found}"
    return found[0]


@pytest.fixture
def registry() -> Registry:
    return Registry()
