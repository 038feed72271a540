"""The examples' end-to-end harness: real processes on 127.0.0.1, traffic, faults, alerts.

An end-to-end test starts an example service (``running_service``), ``watchkeeper
up`` on its spec (``tests.support.watchkeeper.watchkeeper_up``) with the spec's
notify receivers pointed at a local webhook ``Sink``, drives bounded traffic in the
background (``Traffic``), flips the example's faults (``fault``) and waits for the
alerts the sink receives (``firing`` / ``resolved``).
"""

from __future__ import annotations

import contextlib
import random
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx

from tests.monitor.notify.sink import Sink, wait_for
from tests.support.processes import ROOT, running_service, wait_http
from tests.support.prometheus import free_port
from tests.support.watchkeeper import watchkeeper_up

__all__ = [
    "ROOT",
    "Pick",
    "Sink",
    "Traffic",
    "alerts_named",
    "fault",
    "firing",
    "free_port",
    "logs_on_failure",
    "query",
    "resolved",
    "running_service",
    "wait_for",
    "wait_http",
    "watchkeeper_up",
]


def fault(base_url: str, name: str, on: bool = True, value: float | None = None) -> None:
    """Turn the example's fault ``name`` on or off (examples/_shared/faults.py)."""
    params = {"value": str(value)} if value is not None else None
    method = "PUT" if on else "DELETE"
    response = httpx.request(method, f"{base_url}/_faults/{name}", params=params, timeout=5)
    response.raise_for_status()


# One request: (method, path), or (method, path, options) with httpx options such as
# json= and headers=.
Pick = tuple[str, str] | tuple[str, str, dict[str, Any]]


class Traffic:
    """Background requests at a bounded rate until stopped (a context manager).

    ``requests`` are picks or callables returning one (given the seeded random
    generator), chosen at random with a fixed seed; ``json`` is the body of every
    non-GET pick that names none. Failures are counted, never raised."""

    def __init__(
        self,
        base_url: str,
        requests: Sequence[Pick | Callable[[random.Random], Pick]],
        *,
        rate_per_s: float = 20.0,
        json: Any = None,
    ) -> None:
        self.base_url = base_url
        self.requests = list(requests)
        self.interval = 1.0 / rate_per_s
        self.json = json
        self.sent = 0
        self.errors = 0
        self.statuses: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="traffic", daemon=True)

    def _run(self) -> None:
        rng = random.Random(7)
        with httpx.Client(base_url=self.base_url, timeout=10) as client:
            while not self._stop.is_set():
                choice = rng.choice(self.requests)
                pick = choice(rng) if callable(choice) else choice
                method, path = pick[0], pick[1]
                options: dict[str, Any] = dict(pick[2]) if len(pick) > 2 else {}
                if method != "GET":
                    options.setdefault("json", self.json)
                try:
                    response = client.request(method, path, **options)
                    self.statuses[response.status_code] = (
                        self.statuses.get(response.status_code, 0) + 1
                    )
                except httpx.HTTPError:
                    self.errors += 1
                self.sent += 1
                self._stop.wait(self.interval)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(15)


@contextlib.contextmanager
def logs_on_failure(*paths: Path) -> Iterator[None]:
    """On any failure inside, print the tail of each log (service, monitor) first."""
    try:
        yield
    except BaseException:
        for path in paths:
            text = path.read_text(errors="replace") if path.exists() else "(no log)"
            print(f"----- {path.name} (last 6000 characters) -----\n{text[-6000:]}")
        raise


def query(monitor: str, promql: str) -> list[dict[str, Any]]:
    """The result vector of an instant query on the monitor's (or Prometheus's) API."""
    response = httpx.get(f"{monitor}/api/v1/query", params={"query": promql}, timeout=10)
    response.raise_for_status()
    result: list[dict[str, Any]] = response.json()["data"]["result"]
    return result


def alerts_named(sink: Sink, name: str, status: str | None = None) -> list[dict[str, Any]]:
    """Every alert named ``name`` the sink received (of notification ``status``, if given)."""
    found = []
    for body in sink.received():
        for alert in body.get("alerts", []):
            if alert["labels"].get("alertname") == name and (
                status is None or alert["status"] == status
            ):
                found.append(alert)
    return found


def firing(sink: Sink, name: str, timeout_s: float = 120.0) -> dict[str, Any]:
    """Wait for alert ``name`` to arrive firing; return it."""
    alerts = wait_for(lambda: alerts_named(sink, name, "firing"), timeout_s, f"{name} firing")
    return alerts[-1]  # type: ignore[no-any-return]


def resolved(sink: Sink, name: str, timeout_s: float = 180.0) -> dict[str, Any]:
    """Wait for alert ``name`` to arrive resolved; return it."""
    alerts = wait_for(lambda: alerts_named(sink, name, "resolved"), timeout_s, f"{name} resolved")
    return alerts[-1]  # type: ignore[no-any-return]
