"""Outcomes with bounded reasons, and jobs: active, duration by dataset and status, bytes."""

from __future__ import annotations

import asyncio

import pytest

from tests.instrument.conftest import parse, value, values
from tests.instrument.servers.promtool import promtool_problems
from watchkeeper.instrument.exposition import render
from watchkeeper.instrument.outcomes import declare_job, declare_outcomes, job, outcome
from watchkeeper.instrument.registry import Registry


def _label_values(registry: Registry, name: str, label: str) -> set[str]:
    return {
        dict(labels).get(label, "")
        for (sample, labels), _ in parse(render(registry)).items()
        if sample == name
    }


def test_outcomes_count_success_and_failure_reasons(registry: Registry) -> None:
    outcome("verification", registry=registry)
    outcome("verification", ok=True, registry=registry)
    outcome("verification", ok=False, reason="timeout", registry=registry)
    outcome("verification", ok=False, reason="timeout", registry=registry)
    outcome("verification", ok=False, registry=registry)
    assert value(registry, "outcomes_total", operation="verification", result="success") == 2
    assert value(registry, "outcomes_total", result="failure", reason="timeout") == 2
    failures = values(registry, "outcomes_total", operation="verification", result="failure")
    assert sorted(failures) == [1, 2]  # one without a reason, two timeouts


def test_undeclared_reasons_are_capped_and_fold_into_other(registry: Registry) -> None:
    for i in range(25):  # e.g. str(exc) used as a reason: every value would be a new series
        outcome("parse", ok=False, reason=f"bad byte at offset {i}", registry=registry)
    reasons = _label_values(registry, "outcomes_total", "reason")
    assert len(reasons) == 21
    assert "other" in reasons
    assert value(registry, "outcomes_total", operation="parse", reason="other") == 5


def test_declared_reasons_are_the_only_ones_kept(registry: Registry) -> None:
    declare_outcomes("verification", reasons=["timeout", "invalid_input"], registry=registry)
    # declared series exist at zero before the first failure
    assert value(registry, "outcomes_total", reason="invalid_input") == 0
    outcome("verification", ok=False, reason="timeout", registry=registry)
    outcome("verification", ok=False, reason="disk on fire", registry=registry)
    outcome("verification", ok=False, reason="x" * 500, registry=registry)
    assert _label_values(registry, "outcomes_total", "reason") == {
        "timeout",
        "invalid_input",
        "other",
    }
    assert value(registry, "outcomes_total", reason="other") == 2


def test_a_job_records_active_duration_status_and_bytes(registry: Registry) -> None:
    with job("analysis", dataset="sales", registry=registry) as run:
        assert value(registry, "jobs_active", job_name="analysis") == 1
        run.add_bytes(1000)
        run.add_bytes(24)
    assert value(registry, "jobs_active", job_name="analysis") == 0
    assert (
        value(registry, "job_processed_bytes_total", job_name="analysis", dataset="sales") == 1024
    )
    with pytest.raises(KeyError), job("analysis", dataset="sales", registry=registry):
        raise KeyError("column")
    with job("analysis", dataset="sales", registry=registry) as run:
        run.status = "failure"  # failed without raising
    count = "job_duration_seconds_count"
    assert value(registry, count, dataset="sales", status="success") == 1
    assert value(registry, count, dataset="sales", status="failure") == 2
    assert value(registry, "jobs_active", job_name="analysis") == 0


def test_async_jobs_decorators_and_cancellation(registry: Registry) -> None:
    @job("report", registry=registry)
    def build() -> int:
        return 7

    @job("fetch", dataset="remote", registry=registry)
    async def fetch() -> str:
        return "data"

    async def main() -> None:
        assert await fetch() == "data"
        async with job("stream", dataset="events", registry=registry) as run:
            run.add_bytes(5)

        async def forever() -> None:
            async with job("stream", dataset="events", registry=registry):
                await asyncio.sleep(3600)

        task = asyncio.create_task(forever())
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    assert build() == 7
    assert build() == 7
    asyncio.run(main())
    count = "job_duration_seconds_count"
    assert value(registry, count, job_name="report", status="success") == 2
    assert value(registry, count, job_name="fetch", dataset="remote") == 1
    assert value(registry, count, job_name="stream", status="cancelled") == 1
    assert value(registry, "jobs_active", job_name="stream") == 0


def test_datasets_are_bounded(registry: Registry) -> None:
    declare_job("analysis", datasets=["sales", "ads"], registry=registry)
    for dataset in ("sales", "ads", "user-upload-8812.csv"):
        with job("analysis", dataset=dataset, registry=registry):
            pass
    for i in range(60):
        with job("etl", dataset=f"file-{i}", registry=registry):
            pass
    datasets = _label_values(registry, "job_duration_seconds_count", "dataset")
    assert {"sales", "ads", "other"} <= datasets
    assert "user-upload-8812.csv" not in datasets
    assert len(datasets) == 3 + 50  # etl: the first 50 files and "other" (shared)


def test_bad_input_never_raises(registry: Registry) -> None:
    with job("analysis", registry=registry) as run:
        run.add_bytes(-1)
    outcome(None, ok=False, reason=object(), registry=registry)  # type: ignore[arg-type]
    assert value(registry, "watchkeeper_internal_errors_total", component="job") == 1
    assert value(registry, "outcomes_total", operation="None", result="failure") == 1


def test_metric_names_pass_promtool(registry: Registry) -> None:
    outcome("verification", ok=False, reason="timeout", registry=registry)
    with job("analysis", dataset="sales", registry=registry) as run:
        run.add_bytes(3)
    assert promtool_problems(render(registry)) == ""
