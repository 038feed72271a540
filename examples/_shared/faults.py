"""The examples' fault switch: turn a named fault on or off while the service runs.

Every example reads ``FAULTS.active(name)`` where the fault would happen (an
upstream that times out, a database that is down, a burst of 5xx) and mounts
the control endpoint, so a test, the demo or a person can flip faults over HTTP:

    curl -X PUT    127.0.0.1:8000/_faults/upstream_down            # on
    curl -X PUT    '127.0.0.1:8000/_faults/latency?value=0.8'      # on, with a value
    curl -X DELETE 127.0.0.1:8000/_faults/upstream_down            # off
    curl           127.0.0.1:8000/_faults                          # what is on

The switch is for examples on 127.0.0.1 only: an example binds loopback, and the
endpoint refuses names it does not declare (so a typo is a 404 that lists them).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

__all__ = ["FaultSwitch", "fastapi_router", "flask_blueprint"]

PREFIX = "/_faults"


class FaultSwitch:
    """A thread-safe set of active faults, each with an optional float value."""

    def __init__(self, known: Iterable[str]) -> None:
        self.known = frozenset(known)
        self._active: dict[str, float] = {}
        self._lock = threading.Lock()

    def active(self, name: str) -> bool:
        return name in self._active

    def value(self, name: str, default: float = 0.0) -> float:
        return self._active.get(name, default)

    def set(self, name: str, value: float = 1.0) -> None:
        self._check(name)
        with self._lock:
            self._active[name] = value

    def clear(self, name: str) -> None:
        self._check(name)
        with self._lock:
            self._active.pop(name, None)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"active": dict(self._active), "known": sorted(self.known)}

    def _check(self, name: str) -> None:
        if name not in self.known:
            raise KeyError(f"unknown fault {name!r}; this example knows {sorted(self.known)}")


def _parse_value(raw: str | None) -> float:
    try:
        return float(raw) if raw else 1.0
    except ValueError:
        return 1.0


def fastapi_router(switch: FaultSwitch) -> Any:
    """An APIRouter serving the switch at /_faults (hidden from the OpenAPI schema)."""
    from fastapi import APIRouter, HTTPException

    router = APIRouter(prefix=PREFIX, include_in_schema=False)

    @router.get("")
    async def show() -> dict[str, Any]:
        return switch.snapshot()

    @router.put("/{name}")
    async def turn_on(name: str, value: str | None = None) -> dict[str, Any]:
        try:
            switch.set(name, _parse_value(value))
        except KeyError as exc:
            raise HTTPException(404, str(exc)) from None
        return switch.snapshot()

    @router.delete("/{name}")
    async def turn_off(name: str) -> dict[str, Any]:
        try:
            switch.clear(name)
        except KeyError as exc:
            raise HTTPException(404, str(exc)) from None
        return switch.snapshot()

    return router


def flask_blueprint(switch: FaultSwitch) -> Any:
    """A Flask blueprint serving the switch at /_faults."""
    from flask import Blueprint, abort, jsonify, request

    blueprint = Blueprint("faults", __name__, url_prefix=PREFIX)

    @blueprint.get("")
    def show() -> Any:
        return jsonify(switch.snapshot())

    @blueprint.route("/<name>", methods=["PUT", "DELETE"])
    def flip(name: str) -> Any:
        try:
            if request.method == "PUT":
                switch.set(name, _parse_value(request.args.get("value")))
            else:
                switch.clear(name)
        except KeyError as exc:
            abort(404, str(exc))
        return jsonify(switch.snapshot())

    return blueprint
