"""The analysis service: long-ish analysis jobs behind FastAPI, monitored by watchkeeper.

``POST /analyses/{dataset}`` starts an analysis in the background (an asyncio task) and
answers 202 with its id; ``GET /analyses/{id}`` tells how it went (with its trace id).
An analysis runs four phases, each a span: ``data_fetch`` (reads the dataset from the
data API, ``upstream.py``), ``data_validation``, ``signature_calculation`` and
``fatigue_detection``. Phases take ``phase_seconds`` each and a whole analysis is cut
at ``max_seconds``, so analyses last seconds, not minutes.

What watchkeeper measures, and the guide's names for it:

- ``jobs_active{job_name="analysis"}`` = ``creativedynamics_active_analyses``
- ``job_duration_seconds{job_name="analysis", dataset, status}`` = ``..._analysis_duration_seconds``
- ``job_processed_bytes_total`` = ``..._data_processed_bytes``
- ``outcomes_total{operation="analysis", result, reason}``: failures by reason
  (the guide's ``errors_total{error_type}``)
- HTTP golden signals, exceptions, logs with trace ids, and ``/health/detailed`` with the
  data API's latency, memory and disk (``instrument(...)``)

Faults (``/_faults``): ``analysis_fail`` (that share of analyses fails in
``fatigue_detection``; 1.0 without a value) and ``analysis_slow`` (``signature_calculation``
takes ``value`` seconds longer). The data API has its own (``slow``, ``down``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import uuid
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI, HTTPException, Query

import watchkeeper
from examples._shared.faults import FaultSwitch, fastapi_router
from watchkeeper import health, tracing

__all__ = ["DATASETS", "FAULTS", "PHASES", "Analysis", "Settings", "create_app"]

DATASETS = ("sales", "ads", "social")
PHASES = ("data_fetch", "data_validation", "signature_calculation", "fatigue_detection")
REASONS = ("data_api", "invalid_data", "model", "timeout")
FAULTS = FaultSwitch(["analysis_fail", "analysis_slow"])
KEEP = 1000  # finished analyses remembered for GET /analyses/{id}

log = logging.getLogger("analysis")


@dataclass(frozen=True)
class Settings:
    upstream_url: str = "http://127.0.0.1:8101"
    phase_seconds: float = 0.1  # the simulated work of each phase
    max_seconds: float = 10.0  # an analysis running longer is cut (status failure, timeout)
    api_max_latency: float = 0.5  # the data API is "slow" above this (health: degraded)
    max_memory_percent: float = 90.0
    min_disk_free_percent: float = 10.0
    disk_path: str = "/"


@dataclass
class Analysis:
    id: str
    dataset: str
    items: int
    status: str = "running"  # running | success | failure
    reason: str | None = None
    trace_id: str | None = None
    bytes: int = 0
    fatigued: list[str] = field(default_factory=list)


class AnalysisError(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def fatigued_creatives(rows: list[dict[str, Any]]) -> list[str]:
    """Creatives whose click-through rate in the last third of days is under 70% of the first."""
    by_creative: dict[str, list[tuple[int, float]]] = {}
    for row in rows:
        ctr = row["clicks"] / row["impressions"]
        by_creative.setdefault(row["creative_id"], []).append((row["day"], ctr))
    tired = []
    for creative, points in sorted(by_creative.items()):
        points.sort()
        third = max(1, len(points) // 3)
        first = sum(c for _, c in points[:third]) / third
        last = sum(c for _, c in points[-third:]) / third
        if first > 0 and last < 0.7 * first:
            tired.append(creative)
    return tired


def create_app(settings: Settings, faults: FaultSwitch = FAULTS) -> FastAPI:
    """The service, instrumented. Configure logs and tracing before calling it."""
    watchkeeper.declare_job("analysis", datasets=DATASETS)
    watchkeeper.declare_outcomes("analysis", reasons=REASONS)
    analyses: OrderedDict[str, Analysis] = OrderedDict()
    running: set[asyncio.Task[None]] = set()
    client = httpx.AsyncClient(
        base_url=settings.upstream_url,
        timeout=settings.max_seconds,
        event_hooks=tracing.async_httpx_hooks(),  # traceparent to the data API
    )
    app = FastAPI(title="analysis")
    app.include_router(fastapi_router(faults))

    async def phase(name: str, work: float) -> None:
        await asyncio.sleep(work)
        log.info("phase done", extra={"phase": name})

    async def analyse(analysis: Analysis) -> None:
        with watchkeeper.span("analysis", dataset=analysis.dataset, items=analysis.items):
            ids = watchkeeper.logs.current_trace_ids()
            analysis.trace_id = ids[0] if ids else None
            async with watchkeeper.job("analysis", dataset=analysis.dataset) as run:
                async with asyncio.timeout(settings.max_seconds):
                    with watchkeeper.span("data_fetch"):
                        try:
                            response = await client.get(
                                f"/datasets/{analysis.dataset}", params={"items": analysis.items}
                            )
                            response.raise_for_status()
                        except httpx.HTTPError as exc:
                            raise AnalysisError("data_api", f"data API: {exc!r}") from exc
                        run.add_bytes(len(response.content))
                        analysis.bytes = len(response.content)
                        await phase("data_fetch", 0)
                    with watchkeeper.span("data_validation"):
                        rows = response.json().get("rows")
                        if not isinstance(rows, list) or any(
                            not isinstance(r, dict) or not r.get("impressions") for r in rows
                        ):
                            raise AnalysisError("invalid_data", "rows without impressions")
                        await phase("data_validation", settings.phase_seconds)
                    with watchkeeper.span("signature_calculation", rows=len(rows)):
                        digest = hashlib.sha256(response.content).hexdigest()
                        extra = faults.value("analysis_slow", 0.0)
                        await phase("signature_calculation", settings.phase_seconds + extra)
                    with watchkeeper.span("fatigue_detection", signature=digest[:16]):
                        if random.random() < faults.value("analysis_fail", 0.0):
                            raise AnalysisError("model", "fatigue model diverged (fault)")
                        analysis.fatigued = fatigued_creatives(rows)
                        await phase("fatigue_detection", settings.phase_seconds)

    async def run_guarded(analysis: Analysis) -> None:
        try:
            await analyse(analysis)
        except Exception as exc:  # the job and span recorded it; say why here
            analysis.status = "failure"
            analysis.reason = exc.reason if isinstance(exc, AnalysisError) else "timeout"
            watchkeeper.outcome("analysis", ok=False, reason=analysis.reason)
            log.warning(
                "analysis failed",
                extra={"analysis_id": analysis.id, "reason": analysis.reason},
                exc_info=True,
            )
        else:
            analysis.status = "success"
            watchkeeper.outcome("analysis", ok=True)
            log.info("analysis done", extra={"analysis_id": analysis.id, "bytes": analysis.bytes})

    @app.post("/analyses/{dataset}", status_code=202)
    async def start(dataset: str, items: int = Query(90, ge=3, le=3_000)) -> dict[str, Any]:
        if dataset not in DATASETS:
            raise HTTPException(404, f"unknown dataset {dataset!r}; use one of {DATASETS}")
        analysis = Analysis(id=uuid.uuid4().hex, dataset=dataset, items=items)
        analyses[analysis.id] = analysis
        while len(analyses) > KEEP:
            analyses.popitem(last=False)
        watchkeeper.bind(analysis_id=analysis.id)  # on every line of the analysis
        task = asyncio.create_task(run_guarded(analysis))  # copies the request's context
        running.add(task)
        task.add_done_callback(running.discard)
        return {"id": analysis.id, "status": analysis.status}

    @app.get("/analyses/{analysis_id}")
    async def show(analysis_id: str) -> dict[str, Any]:
        if analysis_id not in analyses:
            raise HTTPException(404, f"no analysis {analysis_id!r} (the last {KEEP} are kept)")
        return asdict(analyses[analysis_id])

    return watchkeeper.instrument(
        app,
        service="analysis",
        version="1.0.0",
        system_metrics=True,  # host memory/disk for HighMemory and DiskSpaceLow
        access_log=True,
        checks=[
            health.http(
                f"{settings.upstream_url}/health",
                name="data-api",
                critical=False,  # analyses queue up slower, the service still serves
                max_latency=settings.api_max_latency,
            ),
            health.memory(max_used_percent=settings.max_memory_percent),
            health.disk(settings.disk_path, min_free_percent=settings.min_disk_free_percent),
        ],
    )
