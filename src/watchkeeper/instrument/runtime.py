"""Saturation signals: process CPU/memory/fds and GC, system CPU/memory/disk, event-loop lag.

Process and GC metrics come from prometheus_client's own collectors, through a
bridge that also brings every metric a user registered with prometheus_client's
default registry into our /metrics (one endpoint, both worlds). System metrics
need ``psutil`` (the ``system`` extra) and are opt-in.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from watchkeeper.instrument.registry import MetricFamily, Registry, Sample

__all__ = [
    "ensure_loop_monitor",
    "prometheus_client_collector",
    "system_collector",
]

logger = logging.getLogger("watchkeeper")
LOOP_LAG_INTERVAL_S = 0.25


def _mode(name: str, mtype: str) -> str:
    if name.startswith(("process_", "python_")):
        return "liveall"  # per-worker facts: one series per live worker
    return "livesum" if mtype == "gauge" else "sum"


def prometheus_client_collector() -> Iterable[MetricFamily]:
    """Everything in prometheus_client's default registry, in generic form."""
    from prometheus_client import REGISTRY as PC_REGISTRY

    for metric in PC_REGISTRY.collect():
        samples = [
            Sample(s.name, dict(s.labels), s.value)
            for s in metric.samples
            if not s.name.endswith(("_created", "_gcreated"))
        ]
        name = metric.name
        if metric.type == "counter":
            name += "_total"
        yield MetricFamily(
            name, metric.type, metric.documentation, samples, _mode(name, metric.type)
        )


def system_collector(mountpoints: Sequence[str] = ("/",)) -> Any:
    """A collector of host CPU, memory and disk utilization (needs psutil)."""
    try:
        import psutil
    except ImportError as exc:
        raise ImportError(
            "system metrics need psutil: pip install 'watchkeeper[system]' "
            "(or pass system_metrics=False)"
        ) from exc
    psutil.cpu_percent(None)  # prime: the first call has no interval to measure

    def collect() -> Iterable[MetricFamily]:
        cpu = psutil.cpu_percent(None) / 100.0
        mem = psutil.virtual_memory().percent / 100.0
        disk = []
        for mount in mountpoints:
            try:
                disk.append(Sample("system_filesystem_utilization_ratio", {"mountpoint": mount},
                                   psutil.disk_usage(mount).percent / 100.0))  # fmt: skip
            except OSError:
                continue
        return [
            MetricFamily(
                "system_cpu_utilization_ratio",
                "gauge",
                "Host CPU utilization since the previous scrape (0-1).",
                [Sample("system_cpu_utilization_ratio", {}, cpu)],
                "livemax",
            ),
            MetricFamily(
                "system_memory_utilization_ratio",
                "gauge",
                "Host memory in use (0-1).",
                [Sample("system_memory_utilization_ratio", {}, mem)],
                "livemax",
            ),
            MetricFamily(
                "system_filesystem_utilization_ratio",
                "gauge",
                "Filesystem space in use per mount point (0-1).",
                disk,
                "livemax",
            ),
        ]

    return collect


class _LoopMonitor:
    loop: asyncio.AbstractEventLoop | None = None
    task: asyncio.Task[None] | None = None


_monitor = _LoopMonitor()


def ensure_loop_monitor(registry: Registry) -> None:
    """Start (once per event loop) a task measuring how late the loop wakes up.

    Called on each request; after the first it costs one ``get_running_loop()``.
    """
    loop = asyncio.get_running_loop()
    if _monitor.loop is loop:
        return
    _monitor.loop = loop
    gauge = registry.gauge(
        "asyncio_event_loop_lag_seconds",
        "How late the asyncio event loop ran a timer, last measured (blocking code in "
        "async handlers shows here first).",
        multiprocess_mode="livemax",
    )

    async def watch() -> None:
        try:
            while True:
                before = loop.time()
                await asyncio.sleep(LOOP_LAG_INTERVAL_S)
                gauge.set(max(0.0, loop.time() - before - LOOP_LAG_INTERVAL_S))
        except asyncio.CancelledError:
            return

    _monitor.task = loop.create_task(watch(), name="watchkeeper-loop-lag")
