"""The scrape jobs of a spec: the service's own (job name = service, which ``up{job=...}``
in ServiceDown relies on), one per postgres/redis exporter and one blackbox job per
``http`` dependency, each exporter or probe job named ``<service>-<dependency>`` (which
DatabaseDown, RedisDown and ProbeFailing select by ``job=``).

One list for both engines: ``prometheus_config`` writes it into prometheus.yml, and
``watchkeeper up -f`` scrapes and probes the same jobs, so the generated rules find the
same series on both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from watchkeeper.generate.alert_context import exporter_job
from watchkeeper.spec.durations import Duration
from watchkeeper.spec.model import HttpDependency, PostgresDependency, RedisDependency, ServiceSpec

__all__ = ["JobKind", "ScrapeJob", "scrape_jobs"]

# service: the app's /metrics; exporter: postgres_exporter or redis_exporter;
# blackbox: blackbox_exporter probing each of ``targets`` (URLs) with ``module``.
JobKind = Literal["service", "exporter", "blackbox"]


@dataclass(frozen=True)
class ScrapeJob:
    """One scrape job. ``targets`` are ``host:port`` addresses, except for a blackbox job,
    whose targets are the URLs it probes through the exporter at ``blackbox``."""

    name: str
    kind: JobKind
    targets: tuple[str, ...]
    interval: Duration
    scheme: str = "http"
    metrics_path: str = "/metrics"
    labels: Mapping[str, str] = field(default_factory=dict)
    blackbox: str | None = None
    module: str = "http_2xx"

    @property
    def urls(self) -> tuple[str, ...]:
        """What is fetched per target: the metrics URL, or for a blackbox job the probed URL."""
        if self.kind == "blackbox":
            return self.targets
        return tuple(f"{self.scheme}://{t}{self.metrics_path}" for t in self.targets)

    def prometheus(self) -> dict[str, object]:
        """The job's entry under prometheus.yml's ``scrape_configs`` (the interval is the
        file's global ``scrape_interval``)."""
        static: dict[str, object] = {"targets": list(self.targets)}
        if self.labels:
            static["labels"] = dict(self.labels)
        if self.kind == "service":
            return {
                "job_name": self.name,
                "scheme": self.scheme,
                "metrics_path": self.metrics_path,
                "static_configs": [static],
            }
        if self.kind == "exporter":
            return {"job_name": self.name, "static_configs": [static]}
        # The blackbox exporter probes the URL given as ?target=; relabel it so that
        # instance names the dependency's URL, not the exporter.
        return {
            "job_name": self.name,
            "metrics_path": self.metrics_path,
            "params": {"module": [self.module]},
            "static_configs": [static],
            "relabel_configs": [
                {"source_labels": ["__address__"], "target_label": "__param_target"},
                {"source_labels": ["__param_target"], "target_label": "instance"},
                {"target_label": "__address__", "replacement": self.blackbox},
            ],
        }


def scrape_jobs(spec: ServiceSpec) -> list[ScrapeJob]:
    """The service's job, then one job per postgres, redis and http dependency, in spec order."""
    targets = spec.parsed_targets
    interval = spec.scrape_interval
    jobs = [
        ScrapeJob(
            spec.service,
            "service",
            tuple(t.address for t in targets),
            interval,
            scheme=targets[0].scheme,  # the spec's check: one scheme and path for all
            metrics_path=targets[0].path,
        )
    ]
    for dep in spec.dependencies:
        labels = {"dependency": dep.name}
        name = exporter_job(spec, dep.name)
        if isinstance(dep, PostgresDependency | RedisDependency):
            jobs.append(ScrapeJob(name, "exporter", (dep.exporter,), interval, labels=labels))
        elif isinstance(dep, HttpDependency):
            jobs.append(
                ScrapeJob(
                    name,
                    "blackbox",
                    (dep.url,),
                    interval,
                    metrics_path="/probe",
                    labels=labels,
                    blackbox=dep.blackbox,
                )
            )
    return jobs
