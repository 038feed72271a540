"""What the console reads: the API's dependencies, the notifier, the spec, the token.

``server.py`` builds a ``ConsoleContext`` from the wired monitor; tests build one
from parts. Everything is read through narrow surfaces so the console never reaches
into another subsystem's internals.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from watchkeeper.generate.scrape_jobs import scrape_jobs
from watchkeeper.monitor.model import Matcher, MatchType
from watchkeeper.monitor.web.console.queries import quote
from watchkeeper.monitor.web.console.runner import Runner
from watchkeeper.monitor.web.deps import ApiDeps
from watchkeeper.monitor.web.targets import TargetView

if TYPE_CHECKING:
    from watchkeeper.monitor.notify import Notifier
    from watchkeeper.spec.model import ServiceSpec

__all__ = ["ConsoleContext", "Staleness"]

HTTP_COUNT = "http_server_request_duration_seconds_count"
DEFAULT_RULE_INTERVAL_MS = 60_000  # the monitor's (and Prometheus') evaluation_interval


@dataclass(frozen=True)
class Staleness:
    """Targets with no successful scrape for 2 intervals (the stale-data banner)."""

    stale: tuple[str, ...]  # "job (instance): reason"

    @property
    def any(self) -> bool:
        return bool(self.stale)


@dataclass
class ConsoleContext:
    api: ApiDeps
    notifier: Notifier | None = None
    specs: Sequence[ServiceSpec] = ()
    # The token the monitor enforces (None on loopback without one): the console's
    # login form compares against it and sets it as an HttpOnly cookie.
    token: str | None = None
    started_s: float = field(default_factory=time.time)

    def scrape_targets(self) -> list[TargetView]:
        """The scrape targets, without the synthetic probes."""
        return [t for t in self.api.targets() if getattr(t, "probe_details", None) is None]

    def probes(self) -> list[TargetView]:
        return [t for t in self.api.targets() if getattr(t, "probe_details", None) is not None]

    def scrape_interval_ms(self) -> int:
        """The shortest scrape interval (15 s, Prometheus' default, when scraping nothing):
        charts never ask for points closer together than the data is."""
        intervals = [float(getattr(t, "interval_s", 0) or 0) for t in self.scrape_targets()]
        shortest = min((i for i in intervals if i > 0), default=15.0)
        return max(int(shortest * 1000), 1000)

    def rule_interval_ms(self, record: str) -> int:
        """How often the rules engine writes the recording rule ``record``: its group's
        interval, or the monitor's default (Prometheus' 1 m) when no running group
        records it (a data dir served without rules, data recorded elsewhere).

        A recorded series has a point per evaluation and no finer: the console reads it
        at ``step = max(step, interval)`` (what Grafana's "min interval" does for
        recording rules) and judges coverage on those steps."""
        try:
            groups = self.api.rule_groups()
        except Exception:  # the rules manager's view is best effort here
            groups = []
        for group in groups:
            for rule in group.get("rules", ()):
                if rule.get("type") == "recording" and rule.get("name") == record:
                    return max(int(float(group.get("interval", 60)) * 1000), 1000)
        return DEFAULT_RULE_INTERVAL_MS

    def spec_of(self, service: str) -> ServiceSpec | None:
        for spec in self.specs:
            if spec.service == service:
                return spec
        return None

    def services(self) -> list[str]:
        """Every service to show: the spec's, the scraped jobs, and jobs with HTTP data
        already in the store (a data dir served without scraping), less the specs'
        dependency jobs (``<service>-<dependency>``: a postgres/redis exporter or a
        blackbox probe), which `up -f` scrapes as Prometheus would but are no service."""
        specced = {spec.service for spec in self.specs}
        names = {t.job for t in self.scrape_targets()}
        try:
            metric = Matcher.of("__name__", MatchType.EQUAL, HTTP_COUNT)
            names.update(self.api.storage.label_values("job", [metric]))
        except Exception:  # the store's index is best effort here; the pages still work
            pass
        names.discard("")
        # a spec's service stays even if another spec has a dependency job of its name
        return sorted((names - self._dependency_jobs()) | specced)

    def _dependency_jobs(self) -> set[str]:
        """The specs' exporter and blackbox jobs, named as generate names them."""
        return {j.name for spec in self.specs for j in scrape_jobs(spec) if j.kind != "service"}

    def staleness(self, runner: Runner, now_ms: int) -> Staleness:
        """Scrape targets with no successful scrape (``up == 1``) in their last 2 intervals.

        Read from the stored ``up`` series, so a failed scrape alone does not raise the
        banner, two in a row do. A target never scraped counts once the monitor has run
        for 2 of its intervals (its first scrape may simply not have happened yet).
        """
        stale: list[str] = []
        for t in self.scrape_targets():
            interval_s = float(getattr(t, "interval_s", 15.0) or 15.0)
            if now_ms / 1000 - self.started_s <= 2 * interval_s:
                continue
            window = f"{max(int(2 * interval_s), 1)}s"
            sel = f"up{{job={quote(t.job)}, instance={quote(t.instance)}}}"
            best = runner.scalar(f"max(max_over_time({sel}[{window}]))", now_ms)
            if best == 1:
                continue
            reason = t.last_error or "no successful scrape"
            stale.append(f"{t.job} ({t.instance}): {reason}")
        return Staleness(tuple(stale))
