"""The notifier's configuration from a watchkeeper.yaml: the generated alertmanager.yml.

Going through the generator (not reading ``spec.notify`` directly) means the
embedded notifier runs exactly what a real Alertmanager would be given,
including the inhibitions the generator adds for the spec's alerts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from watchkeeper.monitor.notify.config import NotifyConfig, parse_config

__all__ = ["alertmanager_yaml", "config_from_spec", "load_config_file"]


def alertmanager_yaml(spec_path: Path) -> str:
    """The alertmanager.yml ``watchkeeper generate`` writes for ``spec_path`` (secrets as
    ``*_file`` references, which the notifier reads from the environment)."""
    from watchkeeper.generate.alertmanager import alertmanager_config
    from watchkeeper.generate.golden import build_rule_groups
    from watchkeeper.spec import load_spec

    spec = load_spec(spec_path)
    alerts = [a for g in build_rule_groups(spec) for a in g.alerts]
    return alertmanager_config(spec, spec_path.name, alerts).text


def _parse_yaml(text: str) -> dict[str, Any]:
    from ruamel.yaml import YAML

    data = YAML(typ="safe", pure=True).load(text)
    return data if isinstance(data, dict) else {}


def config_from_spec(spec_path: Path, *, external_url: str = "") -> NotifyConfig:
    return parse_config(_parse_yaml(alertmanager_yaml(spec_path)), external_url=external_url)


def load_config_file(path: Path, *, external_url: str = "") -> NotifyConfig:
    """A hand-written (or generated) alertmanager.yml."""
    return parse_config(_parse_yaml(path.read_text()), external_url=external_url)
