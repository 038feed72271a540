"""watchkeeper.monitor.probe: blackbox-style synthetic probes into an ``Appendable``.

``ProbeManager(appendable, [ProbeConfig(job, target, conditions=[...]), ...])`` runs the
probe loops (``await run()`` / ``await stop()`` / ``apply_config()`` / ``status()``) and
appends blackbox_exporter's series (``probe_success``, ``probe_duration_seconds``,
``probe_http_status_code``, ``probe_ssl_earliest_cert_expiry``). Conditions use Gatus'
syntax: ``[STATUS] == 200``, ``[RESPONSE_TIME] < 300ms``, ``[BODY].status == "healthy"``.
"""

from watchkeeper.monitor.probe.conditions import Condition, ConditionError, parse_condition
from watchkeeper.monitor.probe.config import DEFAULT_CONDITIONS, ProbeConfig, ProbeStatus
from watchkeeper.monitor.probe.defaults import (
    DEFAULT_HEALTH_PATH,
    HEALTH_JOB_SUFFIX,
    health_probe,
    health_url,
)
from watchkeeper.monitor.probe.evaluate import ConditionResult, Observation, evaluate
from watchkeeper.monitor.probe.manager import ProbeManager
from watchkeeper.monitor.probe.prober import Prober

__all__ = [
    "DEFAULT_CONDITIONS",
    "DEFAULT_HEALTH_PATH",
    "HEALTH_JOB_SUFFIX",
    "Condition",
    "ConditionError",
    "ConditionResult",
    "Observation",
    "ProbeConfig",
    "ProbeManager",
    "ProbeStatus",
    "Prober",
    "evaluate",
    "health_probe",
    "health_url",
    "parse_condition",
]
