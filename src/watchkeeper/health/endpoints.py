"""The probe endpoints: ``/health`` (liveness), ``/ready`` (readiness), ``/health/detailed``.

Framework-neutral like ``instrument/endpoint.py``: ``respond()`` (sync, WSGI) and
``respond_async()`` (ASGI) take the path, method and Authorization header and
return (status, headers, body); the middlewares adapt them.

- liveness answers 200 as long as the process can serve a request: it runs no
  check, so a database outage never makes Kubernetes restart healthy pods;
- readiness runs only the critical checks: 200, or 503 naming the failing ones
  (names only, and none when a token protects the details);
- the detailed report is 200 when healthy or degraded, 503 when unhealthy, and
  needs ``Authorization: Bearer <token>`` when a token is configured.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, fields

import orjson

from watchkeeper.errors import ConfigurationError
from watchkeeper.health.registry import HealthRegistry, HealthReport

__all__ = ["HealthEndpoints", "HealthPaths"]

Headers = list[tuple[str, str]]
_JSON: Headers = [("content-type", "application/json"), ("cache-control", "no-store")]


@dataclass(frozen=True, slots=True)
class HealthPaths:
    """Where the probes are served; ``None`` leaves one out."""

    live: str | None = "/health"
    ready: str | None = "/ready"
    detailed: str | None = "/health/detailed"

    @classmethod
    def of(cls, value: HealthPaths | Mapping[str, str | None] | None) -> HealthPaths:
        if value is None:
            return cls()
        if isinstance(value, HealthPaths):
            paths = value
        else:
            known = {f.name for f in fields(cls)}
            unknown = sorted(set(value) - known)
            if unknown:
                raise ConfigurationError(
                    f"health_paths: unknown key(s) {unknown}: use {sorted(known)}, "
                    "e.g. health_paths={'live': '/healthz', 'ready': '/readyz'}"
                )
            paths = cls(**dict(value))
        seen: set[str] = set()
        for f in fields(cls):
            path = getattr(paths, f.name)
            if path is None:
                continue
            if not isinstance(path, str) or not path.startswith("/"):
                raise ConfigurationError(
                    f"health_paths {f.name!r} must be a path starting with '/', got {path!r}"
                )
            if path in seen:
                raise ConfigurationError(f"health_paths: {path!r} is used twice; give each its own")
            seen.add(path)
        return paths

    def all(self) -> list[str]:
        return [p for p in (self.live, self.ready, self.detailed) if p is not None]


class HealthEndpoints:
    def __init__(
        self,
        checks: HealthRegistry,
        paths: HealthPaths | None = None,
        token: str | None = None,
    ) -> None:
        if token is not None and not token:
            raise ConfigurationError("health_token must be a non-empty string (or None)")
        self.checks = checks
        self.paths = paths or HealthPaths()
        self.token = token
        self._kind = {
            path: kind
            for kind, path in (
                ("live", self.paths.live),
                ("ready", self.paths.ready),
                ("detailed", self.paths.detailed),
            )
            if path is not None
        }

    def respond(self, path: str, method: str, authorization: str) -> tuple[int, Headers, bytes]:
        early = self._early(path, method, authorization)
        if early is not None:
            return early
        if self._kind.get(path) == "ready":
            return self._ready(self.checks.run(critical_only=True))
        return self._detailed(self.checks.run())

    async def respond_async(
        self, path: str, method: str, authorization: str
    ) -> tuple[int, Headers, bytes]:
        early = self._early(path, method, authorization)
        if early is not None:
            return early
        if self._kind.get(path) == "ready":
            return self._ready(await self.checks.run_async(critical_only=True))
        return self._detailed(await self.checks.run_async())

    def _early(
        self, path: str, method: str, authorization: str
    ) -> tuple[int, Headers, bytes] | None:
        """The answers that need no check: liveness, wrong method, missing token."""
        if method not in ("GET", "HEAD"):
            return 405, [*_JSON, ("allow", "GET, HEAD")], b'{"error":"use GET or HEAD"}'
        kind = self._kind.get(path)
        if kind == "live" or kind is None:
            return 200, _JSON, b'{"status":"ok"}'
        if kind == "detailed" and self.token is not None and not self._authorized(authorization):
            body = orjson.dumps(
                {"error": "the detailed health report requires 'Authorization: Bearer <token>'"}
            )
            return 401, [*_JSON, ("www-authenticate", 'Bearer realm="health"')], body
        return None

    def _authorized(self, authorization: str) -> bool:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() != "bearer" or self.token is None:
            return False
        return hmac.compare_digest(credentials.strip().encode(), self.token.encode())

    def _ready(self, report: HealthReport) -> tuple[int, Headers, bytes]:
        if report.ready:
            return 200, _JSON, b'{"status":"ready"}'
        body: dict[str, object] = {"status": "unready"}
        if self.token is None:
            body["failing"] = [r.name for r in report.results if not r.ok]
        return 503, _JSON, orjson.dumps(body)

    @staticmethod
    def _detailed(report: HealthReport) -> tuple[int, Headers, bytes]:
        return (503 if report.status == "unhealthy" else 200), _JSON, report.to_json()
