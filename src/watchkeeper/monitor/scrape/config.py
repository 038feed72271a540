"""What to scrape (``TargetConfig``) and what happened (``TargetStatus``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

__all__ = [
    "ACCEPT_HEADER",
    "DEFAULT_BODY_LIMIT_BYTES",
    "DEFAULT_SERIES_LIMIT",
    "Health",
    "TargetConfig",
    "TargetStatus",
    "instance_of",
]

# The same preference order as Prometheus: OpenMetrics first, then the classic text format.
ACCEPT_HEADER = (
    "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
DEFAULT_BODY_LIMIT_BYTES = 64 * 1024 * 1024
DEFAULT_SERIES_LIMIT = 200_000

Health = Literal["up", "down", "unknown"]


def instance_of(url: str) -> str:
    """Prometheus' ``instance`` label: host:port of the target (port implied by the scheme)."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.hostname:
        raise ValueError(
            f"target url {url!r} needs a scheme and host, e.g. http://127.0.0.1:8000/metrics"
        )
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{port}"


@dataclass(frozen=True)
class TargetConfig:
    """One scrape target. ``labels`` are added to every series (like static_configs labels).

    Limits fail the whole scrape (``up`` = 0) with the reason in ``TargetStatus.last_error``:
    ``body_limit_bytes`` bounds the uncompressed body, ``series_limit`` the series per scrape
    (0 disables either).
    """

    job: str
    url: str
    interval_s: float = 15.0
    timeout_s: float = 10.0
    honor_labels: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)
    body_limit_bytes: int = DEFAULT_BODY_LIMIT_BYTES
    series_limit: int = DEFAULT_SERIES_LIMIT
    headers: Mapping[str, str] = field(default_factory=dict)
    bearer_token: str | None = None

    def __post_init__(self) -> None:
        if not self.job:
            raise ValueError(f"target {self.url!r}: job must not be empty")
        instance_of(self.url)
        if self.interval_s <= 0 or self.timeout_s <= 0:
            msg = f"target {self.url!r}: interval_s and timeout_s must be > 0"
            raise ValueError(f"{msg}, got {self.interval_s} and {self.timeout_s}")
        if self.timeout_s > self.interval_s:
            msg = f"target {self.url!r}: timeout_s ({self.timeout_s}) must not exceed"
            raise ValueError(f"{msg} interval_s ({self.interval_s})")

    @property
    def key(self) -> tuple[str, str]:
        return (self.job, self.url)

    @property
    def instance(self) -> str:
        return self.labels.get("instance") or instance_of(self.url)

    def target_labels(self) -> dict[str, str]:
        """The labels every scraped series of this target gets: job, instance, then ``labels``."""
        out = {"job": self.job, "instance": instance_of(self.url)}
        out.update(self.labels)
        return {k: v for k, v in out.items() if v != ""}


@dataclass(frozen=True)
class TargetStatus:
    """A snapshot for the targets page and /api/v1/targets. ``last_scrape`` is Unix seconds."""

    job: str
    instance: str
    url: str
    health: Health
    last_scrape: float | None
    last_duration_s: float
    last_error: str
    samples: int
    series_added: int
    labels: dict[str, str]
    interval_s: float = 15.0
    timeout_s: float = 10.0
