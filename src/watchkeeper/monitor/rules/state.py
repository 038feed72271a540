"""What was firing, persisted in the data dir, so a restart can resolve what cleared meanwhile.

Prometheus forgets firing alerts when it stops; Alertmanager resolves them only once
their ``endsAt`` passes, and an embedded notifier that restarts with the monitor would
never hear of them again (the "zombie alert" problem). We write the firing set to
``rules-state.json`` whenever it changes (atomically: temp file, fsync, rename) and,
after a restart, send a resolved notification for every alert in it that is no longer
active.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import orjson

from watchkeeper.monitor.model import Labels, labels_from

__all__ = ["FiringAlert", "load_firing", "save_firing"]

log = logging.getLogger("watchkeeper.monitor.rules")

STATE_VERSION = 1
MAX_STATE_BYTES = 64 << 20


@dataclass(frozen=True, slots=True)
class FiringAlert:
    group_file: str
    group_name: str
    rule: str
    labels: Labels
    annotations: tuple[tuple[str, str], ...]
    active_at_ms: int
    fired_at_ms: int
    value: float


def save_firing(path: Path, alerts: Iterable[FiringAlert], now_ms: int) -> None:
    """Replace the state file atomically (a crash leaves the old or the new one, never half)."""
    body = {
        "version": STATE_VERSION,
        "saved_at_ms": now_ms,
        "firing": [
            {
                "file": a.group_file,
                "group": a.group_name,
                "rule": a.rule,
                "labels": dict(a.labels),
                "annotations": dict(a.annotations),
                "active_at_ms": a.active_at_ms,
                "fired_at_ms": a.fired_at_ms,
                "value": a.value if a.value == a.value else None,
            }
            for a in alerts
        ],
    }
    tmp = path.with_name(path.name + ".tmp")
    data = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def load_firing(path: Path) -> list[FiringAlert]:
    """The persisted firing alerts; a missing or unreadable file means none (logged)."""
    try:
        if path.stat().st_size > MAX_STATE_BYTES:
            raise ValueError("state file is too large")
        doc = orjson.loads(path.read_bytes())
        if doc.get("version") != STATE_VERSION:
            raise ValueError(f"unknown version {doc.get('version')!r}")
        return [
            FiringAlert(
                str(a["file"]),
                str(a["group"]),
                str(a["rule"]),
                labels_from({str(k): str(v) for k, v in a["labels"].items()}),
                tuple(sorted((str(k), str(v)) for k, v in a["annotations"].items())),
                int(a["active_at_ms"]),
                int(a["fired_at_ms"]),
                float("nan") if a.get("value") is None else float(a["value"]),
            )
            for a in doc.get("firing", [])
        ]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning(
            "watchkeeper: ignoring the alert state file %s (%s); alerts that were firing "
            "before the restart will not get a resolved notification",
            path,
            exc,
        )
        with contextlib.suppress(OSError):
            path.rename(path.with_name(path.name + ".corrupt"))
        return []
