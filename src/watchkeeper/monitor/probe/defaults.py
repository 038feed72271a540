"""The probes every scrape target gets by default: its readiness endpoint.

Scraping ``/metrics`` says the process answers; it does not say the service can serve.
The SDK's ``/ready`` answers 503 while a critical check (the database, a cache) fails,
so probing it next to every scrape target catches a service that is up but useless,
even when no traffic flows to turn the outage into error-rate alerts. ``/ready`` rather
than ``/health`` (liveness): liveness stays 200 while dependencies are down by design
(a restart would not help), so it would only repeat what ``up`` already says.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from watchkeeper.monitor.probe.config import ProbeConfig

__all__ = ["DEFAULT_HEALTH_PATH", "HEALTH_JOB_SUFFIX", "health_probe", "health_url"]

DEFAULT_HEALTH_PATH = "/ready"  # what watchkeeper.instrument() serves
HEALTH_JOB_SUFFIX = "-health"


def health_url(metrics_url: str, path: str = DEFAULT_HEALTH_PATH) -> str:
    """The health endpoint next to a metrics URL: same scheme and host:port, ``path``."""
    parts = urlsplit(metrics_url)
    return urlunsplit(
        (parts.scheme, parts.netloc, path if path.startswith("/") else f"/{path}", "", "")
    )


def health_probe(
    job: str,
    metrics_url: str,
    *,
    path: str = DEFAULT_HEALTH_PATH,
    interval_s: float = 15.0,
    timeout_s: float = 10.0,
) -> ProbeConfig:
    """An http_2xx probe of the target's health endpoint, as job ``<job>-health``.

    Its own job (not the scrape job), because on Prometheus it is a blackbox job of its
    own, and ``up{job="<job>"}``-based rules must not count probes as targets.
    """
    return ProbeConfig(
        job=f"{job}{HEALTH_JOB_SUFFIX}",
        target=health_url(metrics_url, path),
        interval_s=interval_s,
        timeout_s=timeout_s,
    )
