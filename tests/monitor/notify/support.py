"""Helpers shared by the notifier tests: alerts, configs and a notifier on its own loop."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from watchkeeper.monitor.model import Alert, labels_from
from watchkeeper.monitor.notify import Notifier

__all__ = ["alert", "running", "webhook_config"]


def alert(
    name: str,
    *,
    starts: int = 0,
    ends: int = 0,
    annotations: Mapping[str, str] | None = None,
    **labels: str,
) -> Alert:
    return Alert(
        labels=labels_from({"alertname": name, **labels}),
        annotations=tuple(sorted((annotations or {}).items())),
        starts_at_ms=starts,
        ends_at_ms=ends,
    )


def webhook_config(
    urls: Mapping[str, str],
    *,
    group_by: list[str] | None = None,
    group_wait: str = "200ms",
    group_interval: str = "500ms",
    repeat_interval: str = "1h",
    routes: list[dict[str, Any]] | None = None,
    inhibit: list[dict[str, Any]] | None = None,
    send_resolved: bool = True,
) -> dict[str, Any]:
    """An alertmanager.yml (as a dict) whose receivers are webhooks; the first is the root's."""
    route: dict[str, Any] = {
        "receiver": next(iter(urls)),
        "group_by": group_by if group_by is not None else ["alertname"],
        "group_wait": group_wait,
        "group_interval": group_interval,
        "repeat_interval": repeat_interval,
    }
    if routes:
        route["routes"] = routes
    return {
        "route": route,
        "receivers": [
            {"name": name, "webhook_configs": [{"url": url, "send_resolved": send_resolved}]}
            for name, url in urls.items()
        ],
        "inhibit_rules": inhibit or [],
    }


@contextlib.contextmanager
def running(notifier: Notifier) -> Iterator[Notifier]:
    """Run ``notifier`` on an event loop in a thread, as the monitor does; stop it after."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(notifier.start(), loop).result(10)
        yield notifier
    finally:
        asyncio.run_coroutine_threadsafe(notifier.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
