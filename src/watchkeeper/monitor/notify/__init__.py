"""watchkeeper.monitor.notify: Alertmanager's routing, grouping, silences and inhibition,
embedded, with at-least-once delivery to webhooks, Slack, PagerDuty, email and external
Alertmanagers.

``Notifier(config, data_dir)`` is built by ``server.py`` from the spec
(``config_from_spec``) or an alertmanager.yml (``load_config_file``); its
``notify`` method is the ``NotifyFunc`` the rules engine calls.
"""

from watchkeeper.monitor.notify.config import ConfigError, NotifyConfig, parse_config
from watchkeeper.monitor.notify.delivery import DeliveryOptions
from watchkeeper.monitor.notify.notifier import Notifier
from watchkeeper.monitor.notify.silences import Silence, SilenceError
from watchkeeper.monitor.notify.spec_config import (
    alertmanager_yaml,
    config_from_spec,
    load_config_file,
)

__all__ = [
    "ConfigError",
    "DeliveryOptions",
    "Notifier",
    "NotifyConfig",
    "Silence",
    "SilenceError",
    "alertmanager_yaml",
    "config_from_spec",
    "load_config_file",
    "parse_config",
]
