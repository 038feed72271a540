"""The service spec (``watchkeeper.yaml``): data model and loader, nothing else.

Like Prometheus' ``model/rulefmt``: parse and validate, with every error located
(``file:line``) and saying how to fix it.
"""

from __future__ import annotations

from watchkeeper.spec.catalog import BUILTIN_ALERTS, HTTP_BUCKETS, SLO_ALERT
from watchkeeper.spec.checks import check_spec, spec_warnings
from watchkeeper.spec.durations import Duration, parse_duration
from watchkeeper.spec.errors import Problem, SpecProblems
from watchkeeper.spec.inventory import AlertInfo, alert_inventory
from watchkeeper.spec.loader import load_spec, load_spec_text
from watchkeeper.spec.model import ServiceSpec

__all__ = [
    "BUILTIN_ALERTS",
    "HTTP_BUCKETS",
    "SLO_ALERT",
    "AlertInfo",
    "Duration",
    "Problem",
    "ServiceSpec",
    "SpecProblems",
    "alert_inventory",
    "check_spec",
    "load_spec",
    "load_spec_text",
    "parse_duration",
    "spec_warnings",
]
