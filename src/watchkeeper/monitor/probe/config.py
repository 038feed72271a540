"""What to probe (``ProbeConfig``) and what happened (``ProbeStatus``).

A probe is what blackbox_exporter calls a module run against a target: ``http`` (a
request whose status, body, latency and certificate the conditions judge) or ``tcp``
(a connect, optionally with a TLS handshake). Its series carry ``job`` and
``instance`` = the probed target as written (the URL for http, ``host:port`` for tcp),
which is what the generated prometheus.yml relabels a blackbox job's instance to.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from watchkeeper.monitor.probe.conditions import Condition, ConditionError, parse_condition
from watchkeeper.monitor.probe.evaluate import ConditionResult

__all__ = [
    "DEFAULT_CONDITIONS",
    "METHODS",
    "Module",
    "ProbeConfig",
    "ProbeStatus",
]

Module = Literal["http", "tcp"]
# blackbox_exporter's http_2xx and tcp_connect modules, written as conditions.
DEFAULT_CONDITIONS: dict[Module, tuple[str, ...]] = {
    "http": ("[STATUS] >= 200", "[STATUS] < 300"),
    "tcp": ("[CONNECTED] == true",),
}
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
DEFAULT_BODY_LIMIT_BYTES = 1 << 20
MAX_CONDITIONS = 50
MAX_TARGET_CHARS = 2048
_TCP_PLACEHOLDERS = ("CONNECTED", "RESPONSE_TIME", "CERTIFICATE_EXPIRATION")


def _host_port(target: str) -> bool:
    host, sep, port = target.rpartition(":")
    return bool(sep and host.strip("[]") and port.isdigit() and 0 < int(port) < 65536)


@dataclass(frozen=True)
class ProbeConfig:
    """One probe. ``conditions`` empty means the module's default (any 2xx for http, a
    completed connect for tcp). ``tls`` (tcp only) does a TLS handshake after the connect;
    ``ca_file`` and ``insecure_skip_verify`` configure how a certificate is verified.
    ``body_limit_bytes`` bounds what an http probe reads (more fails the probe)."""

    job: str
    target: str
    module: Module = "http"
    method: str = "GET"
    conditions: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    interval_s: float = 15.0
    timeout_s: float = 10.0
    tls: bool = False
    ca_file: str | None = None
    insecure_skip_verify: bool = False
    body_limit_bytes: int = DEFAULT_BODY_LIMIT_BYTES
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)  # may hold secrets
    parsed: tuple[Condition, ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.target) > MAX_TARGET_CHARS:  # it becomes the instance label
            raise ValueError(
                f"probe {self.target[:60]!r}... (job {self.job!r}): the target is longer than "
                f"{MAX_TARGET_CHARS} characters"
            )
        where = f"probe {self.target!r} (job {self.job!r})"
        if not self.job:
            raise ValueError(f"{where}: job must not be empty")
        if self.module == "http":
            parts = urlsplit(self.target)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(
                    f"{where}: an http probe needs an http(s):// URL, "
                    "e.g. http://127.0.0.1:8000/ready"
                )
            if parts.username is not None or parts.password is not None:
                raise ValueError(
                    f"probe of {parts.hostname!r} (job {self.job!r}): credentials in the URL "
                    "would become the instance label and show in logs; send them in headers "
                    "(e.g. Authorization) instead"
                )
            if self.method not in METHODS:
                raise ValueError(
                    f"{where}: method {self.method!r} is not one of {', '.join(METHODS)}"
                )
        elif self.module == "tcp":
            if not _host_port(self.target):
                raise ValueError(f"{where}: a tcp probe needs host:port, e.g. 127.0.0.1:5432")
        else:
            raise ValueError(f"{where}: module {self.module!r} is not 'http' or 'tcp'")
        if self.interval_s <= 0 or not 0 < self.timeout_s <= self.interval_s:
            raise ValueError(
                f"{where}: need 0 < timeout_s <= interval_s, got timeout_s={self.timeout_s} "
                f"and interval_s={self.interval_s}"
            )
        if self.ca_file is not None and not (
            os.path.isfile(self.ca_file) and os.access(self.ca_file, os.R_OK)
        ):
            raise ValueError(
                f"{where}: ca_file {self.ca_file!r} is not a readable file; give the PEM file "
                "of the CA that signed the target's certificate"
            )
        if len(self.conditions) > MAX_CONDITIONS:
            raise ValueError(f"{where}: more than {MAX_CONDITIONS} conditions")
        object.__setattr__(self, "parsed", self._parse(where))

    def _parse(self, where: str) -> tuple[Condition, ...]:
        parsed = []
        for i, text in enumerate(self.conditions or DEFAULT_CONDITIONS[self.module]):
            try:
                condition = parse_condition(text)
            except ConditionError as exc:
                raise ValueError(f"{where}: conditions[{i}]: {exc}") from None
            if self.module == "tcp" and condition.placeholder not in _TCP_PLACEHOLDERS:
                allowed = ", ".join(f"[{p}]" for p in _TCP_PLACEHOLDERS)
                raise ValueError(
                    f"{where}: conditions[{i}]: {text!r}: a tcp probe has no "
                    f"[{condition.placeholder}]; use {allowed}"
                )
            parsed.append(condition)
        return tuple(parsed)

    @property
    def key(self) -> tuple[str, str]:
        return (self.job, self.target)

    @property
    def url(self) -> str:
        return self.target if self.module == "http" else f"tcp://{self.target}"

    @property
    def instance(self) -> str:
        return self.labels.get("instance") or self.target

    def target_labels(self) -> dict[str, str]:
        """job, instance (the target as written, like the blackbox relabeling), then labels."""
        out = {"job": self.job, "instance": self.target, **self.labels}
        return {k: v for k, v in out.items() if v != ""}


@dataclass(frozen=True)
class ProbeStatus:
    """A snapshot for /api/v1/targets (the scrape targets' shape) plus what the probe saw.

    ``last_scrape`` is Unix seconds; ``last_error`` names the connection error or the
    failed conditions."""

    job: str
    instance: str
    url: str
    health: Literal["up", "down", "unknown"]
    last_scrape: float | None
    last_duration_s: float
    last_error: str
    labels: dict[str, str]
    interval_s: float
    timeout_s: float
    module: Module
    conditions: tuple[ConditionResult, ...] = ()
    status_code: int | None = None
    cert_not_after: float | None = None

    @property
    def probe_details(self) -> dict[str, Any]:
        """The extra ``probe`` object of this target in /api/v1/targets."""
        return {
            "module": self.module,
            "conditions": [
                {"condition": c.condition, "success": c.success, "detail": c.detail}
                for c in self.conditions
            ],
            "statusCode": self.status_code,
            "certificateExpiry": self.cert_not_after,
        }
