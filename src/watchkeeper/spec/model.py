"""The service spec (``watchkeeper.yaml``) as a pydantic model: one class per section.

Only the shape lives here; checks that look across sections (an SLO naming a
dependency, an inhibition naming labels) are in :mod:`watchkeeper.spec.checks` so
they can point at the exact line.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from watchkeeper.spec.alerts import AlertsSection
from watchkeeper.spec.base import SpecModel
from watchkeeper.spec.catalog import HTTP_BUCKETS
from watchkeeper.spec.durations import Duration
from watchkeeper.spec.notify import Notify
from watchkeeper.spec.slo import SLO
from watchkeeper.spec.types import DurationField, LabelName, Number

__all__ = [
    "Dependency",
    "GrafanaSection",
    "HttpDependency",
    "KubernetesSection",
    "LLMSection",
    "PostgresDependency",
    "Quota",
    "QueueDependency",
    "RedisDependency",
    "RunbooksSection",
    "ServiceSpec",
    "Target",
]

ServiceName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*$", max_length=30)]
DepName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*$")]
HostPort = Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]+:[0-9]{1,5}$")]


class Target:
    """A parsed scrape target: ``host:port`` or ``http(s)://host:port/path``."""

    def __init__(self, text: str) -> None:
        url = urlsplit(text if "://" in text else f"http://{text}")
        if url.scheme not in {"http", "https"} or not url.hostname or url.port is None:
            raise ValueError(f"must be host:port or http(s)://host:port/path, got {text!r}")
        self.scheme = url.scheme
        self.address = f"{url.hostname}:{url.port}"
        self.path = url.path or "/metrics"


class PostgresDependency(SpecModel):
    kind: Literal["postgres"]
    name: DepName
    exporter: HostPort = "postgres-exporter:9187"


class RedisDependency(SpecModel):
    kind: Literal["redis"]
    name: DepName
    exporter: HostPort = "redis-exporter:9121"


class HttpDependency(SpecModel):
    """An HTTP endpoint probed by the blackbox exporter (module ``http_2xx``)."""

    kind: Literal["http"]
    name: DepName
    url: str
    blackbox: HostPort = "blackbox-exporter:9115"

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if urlsplit(value).scheme not in {"http", "https"}:
            raise ValueError(f"must be an http(s):// URL, got {value!r}")
        return value


class QueueDependency(SpecModel):
    """A work queue the service reports through ``queue_depth{queue=...}``."""

    kind: Literal["queue"]
    name: DepName


Dependency = Annotated[
    PostgresDependency | RedisDependency | HttpDependency | QueueDependency,
    Field(discriminator="kind"),
]


class Quota(SpecModel):
    """An external quota the service reports as ``quota_remaining{quota=...}``."""

    name: str
    low: Number = Decimal(1000)
    horizon: DurationField = Duration(4 * 3600)


class LLMSection(SpecModel):
    budget_usd_per_hour: Number
    models: tuple[str, ...] = ()


class RunbooksSection(SpecModel):
    """Where on-call opens runbooks: a base URL, or a directory path in the repository."""

    url: str | None = None
    directory: str = "runbooks"


class GrafanaSection(SpecModel):
    url: str = "http://localhost:3000"
    folder: str = "watchkeeper"


K8sLabelKey = Annotated[
    str, Field(pattern=r"^([a-z0-9.-]+/)?[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$")
]


class KubernetesSection(SpecModel):
    """Prometheus Operator objects; ``selector`` must match your Service's labels."""

    namespace: str = "default"
    selector: dict[K8sLabelKey, str] = Field(default_factory=dict)
    port: str = "http"
    liveness_path: str = "/health"  # what watchkeeper.instrument() serves
    readiness_path: str = "/ready"
    rule_labels: dict[K8sLabelKey, str] = Field(default_factory=dict)


class ServiceSpec(SpecModel):
    """The whole ``watchkeeper.yaml``."""

    version: Literal[1] = 1
    service: ServiceName
    team: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")] | None = None
    targets: tuple[str, ...] = ("localhost:8000",)
    scrape_interval: DurationField = Duration(15)
    labels: dict[LabelName, str] = Field(default_factory=dict)
    buckets: tuple[Number, ...] = HTTP_BUCKETS
    slos: tuple[SLO, ...] = ()
    alerts: AlertsSection = AlertsSection()
    dependencies: tuple[Dependency, ...] = ()
    llm: LLMSection | None = None
    quota: tuple[Quota, ...] = ()
    notify: Notify = Notify()
    runbooks: RunbooksSection = RunbooksSection()
    grafana: GrafanaSection = GrafanaSection()
    kubernetes: KubernetesSection = KubernetesSection()

    @field_validator("targets")
    @classmethod
    def _targets(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("list at least one target such as app:8000")
        parsed = [Target(t) for t in value]
        if len({(t.scheme, t.path) for t in parsed}) > 1:
            raise ValueError(
                "all targets of one service must share scheme and metrics path "
                "(Prometheus scrapes one job one way), got " + ", ".join(value)
            )
        return value

    @property
    def parsed_targets(self) -> list[Target]:
        return [Target(t) for t in self.targets]

    def dependencies_of(self, kind: str) -> list[Dependency]:
        return [d for d in self.dependencies if d.kind == kind]
