"""Where alerts point on-call: runbook and dashboard URLs, and dashboard uids.

Dashboard uids are derived from the service name only, so links stay valid across
regenerations and Grafana never sees a "new" dashboard for an old one.
"""

from __future__ import annotations

from watchkeeper.spec.model import ServiceSpec

__all__ = ["dashboard_uid", "dashboard_url", "runbook_url"]


def dashboard_uid(spec: ServiceSpec, board: str) -> str:
    return f"wk-{spec.service}-{board}"


def dashboard_url(spec: ServiceSpec, board: str = "overview") -> str:
    return f"{spec.grafana.url.rstrip('/')}/d/{dashboard_uid(spec, board)}/{spec.service}-{board}"


def runbook_url(spec: ServiceSpec, alert: str, override: str | None = None) -> str:
    if override:
        return override
    if spec.runbooks.url:
        return f"{spec.runbooks.url.rstrip('/')}/{alert}.md"
    return f"{spec.runbooks.directory.rstrip('/')}/{alert}.md"
