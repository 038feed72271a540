"""``/api/v1/targets`` in Prometheus' ``activeTargets`` shape, from the scrape manager's status."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from watchkeeper.monitor.model import Labels

__all__ = ["TargetView", "render_targets"]

_ZERO_TIME = "0001-01-01T00:00:00Z"  # what Prometheus reports for "never scraped"


class TargetView(Protocol):
    """What the API reads of a target (``watchkeeper.monitor.scrape.TargetStatus``)."""

    @property
    def job(self) -> str: ...
    @property
    def instance(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def health(self) -> str: ...
    @property
    def last_scrape(self) -> datetime | float | None: ...
    @property
    def last_duration_s(self) -> float: ...
    @property
    def last_error(self) -> str | None: ...
    @property
    def labels(self) -> Labels | Mapping[str, str]: ...


def _rfc3339(value: datetime | float | None) -> str:
    if value is None or value == 0:
        return _ZERO_TIME
    when = value if isinstance(value, datetime) else datetime.fromtimestamp(value, UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _duration(seconds: object) -> str:
    if not isinstance(seconds, int | float) or seconds <= 0:
        return ""
    ms = round(seconds * 1000)
    if ms % 60_000 == 0:
        return f"{ms // 60_000}m"
    if ms % 1000 == 0:
        return f"{ms // 1000}s"
    return f"{ms}ms"


def _one(target: TargetView) -> dict[str, Any]:
    labels = dict(target.labels)
    labels.setdefault("job", target.job)
    labels.setdefault("instance", target.instance)
    health = target.health if target.health in ("up", "down") else "unknown"
    out: dict[str, Any] = {
        "discoveredLabels": {
            "__address__": target.instance,
            "__scheme__": target.url.split("://", 1)[0],
            "job": target.job,
        },
        "labels": labels,
        "scrapePool": target.job,
        "scrapeUrl": target.url,
        "globalUrl": target.url,
        "lastError": target.last_error or "",
        "lastScrape": _rfc3339(target.last_scrape),
        "lastScrapeDuration": float(target.last_duration_s or 0.0),
        "health": health,
        "scrapeInterval": _duration(getattr(target, "interval_s", None)),
        "scrapeTimeout": _duration(getattr(target, "timeout_s", None)),
    }
    # Synthetic probes (watchkeeper.monitor.probe) add what they checked: module and
    # each condition with the value it saw. Prometheus clients ignore the extra key.
    probe = getattr(target, "probe_details", None)
    if probe is not None:
        out["probe"] = probe
    return out


def render_targets(targets: Sequence[TargetView], state: str) -> dict[str, Any]:
    """The ``data`` of ``/api/v1/targets?state=active|dropped|any``; nothing is ever dropped."""
    active = [_one(t) for t in targets] if state in ("", "any", "active") else []
    return {"activeTargets": active, "droppedTargets": []}
