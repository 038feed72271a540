"""The data metrics (databases, caches, queues) as the rest of watchkeeper and Prometheus see
them: every name passes ``promtool check metrics``, and every query the generator writes
over them (CacheHitRateLow, QueueBacklog, the dependencies dashboard) names metrics and
labels the SDK really exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text

from tests.instrument.conftest import parse
from watchkeeper.generate import generate_all
from watchkeeper.instrument import cache, queues
from watchkeeper.instrument.db import instrument_sqlalchemy, uninstrument_sqlalchemy
from watchkeeper.instrument.exposition import render
from watchkeeper.instrument.registry import Registry
from watchkeeper.spec import load_spec

SHOP = Path(__file__).parents[2] / "examples" / "specs" / "shop.yaml"
OURS = (
    "cache_requests_total",
    "cache_operation_duration_seconds_bucket",
    "queue_depth",
    "queue_oldest_age_seconds",
    "db_client_operation_duration_seconds_bucket",
    "db_client_connections_usage",
    "redis_up",
)


@pytest.fixture
def exposition() -> Iterator[str]:
    """A registry holding every data metric, fed by real PostgreSQL and Redis."""
    registry = Registry()
    engine = create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/test")
    key = f"wk:test:contract:{uuid.uuid4().hex[:8]}"
    with redis.Redis(host="127.0.0.1", port=6379, db=13) as client:
        try:
            instrument_sqlalchemy(engine, registry=registry)
            with engine.connect() as conn:
                conn.execute(text("SELECT 1 FROM pg_class LIMIT 1"))
            cache.instrument_redis(client, cache="sessions", registry=registry)
            client.get(key + ":nothing")
            cache.record_hit("default", registry=registry)
            cache.redis_server_stats(client, dependency="cache", registry=registry)
            client.lpush(key, json.dumps({"enqueued_at": time.time() - 3}))
            queues.track_redis_list(client, key, queue="emails", registry=registry)
            yield render(registry)
        finally:
            client.delete(key)
            uninstrument_sqlalchemy(engine)
            engine.dispose()


def test_promtool_check_metrics_is_clean(exposition: str) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:  # scripts/setup-system.sh installs it; CI always has it
        pytest.skip("needs Debian's promtool (scripts/setup-system.sh)")
    for name in OURS:
        assert f"\n{name}" in exposition, f"{name} missing from the exposition"
    done = subprocess.run(
        [promtool, "check", "metrics"], input=exposition.encode(), capture_output=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, (done.stdout + done.stderr).decode()
    assert (done.stdout + done.stderr).decode().strip() == ""


def _generated_queries() -> list[str]:
    """Every PromQL expression in the shop example's rules and dashboards."""
    out: list[str] = []
    for artifact in generate_all(load_spec(SHOP), SHOP.name):
        out += re.findall(r"expr: (.+)", artifact.text)
        out += [
            json.loads(f'"{m}"') for m in re.findall(r'"expr": "((?:[^"\\]|\\.)*)"', artifact.text)
        ]
    return out


def test_generated_queries_match_exported_names_and_labels(exposition: str) -> None:
    exported: dict[str, set[str]] = {}
    for (name, labels), _ in parse(exposition).items():
        exported.setdefault(name, set()).update(k for k, _ in labels)
    checked: set[str] = set()
    for query in _generated_queries():
        for metric in OURS:
            for matchers in re.findall(rf"\b{metric}\{{([^}}]*)\}}", query):
                checked.add(metric)
                wanted = set(re.findall(r"(\w+)\s*=~?", matchers)) - {"job", "instance"}
                assert wanted <= exported[metric], f"{query}: {metric} has no {wanted}"
                for grouping in re.findall(r"\bby \(([^)]*)\)", query):
                    by = {g.strip() for g in grouping.split(",")} - {"le"}
                    assert by <= exported[metric], f"{query}: {metric} has no {by}"
    # The shop spec queries at least these; a rename on either side fails here.
    assert {"cache_requests_total", "queue_depth", "db_client_operation_duration_seconds_bucket",
            "db_client_connections_usage", "queue_oldest_age_seconds"} <= checked  # fmt: skip
