"""The notifier's HTTP API: Alertmanager-compatible alerts and silences, and the
notification log.

- ``POST /api/v2/alerts`` takes Alertmanager's postable alerts (so a Prometheus, or
  ``amtool alert add``, can send here); ``GET /api/v2/alerts`` and
  ``GET /api/v2/alerts/groups`` show them with their silenced/inhibited state.
- ``GET/POST /api/v2/silences``, ``GET/DELETE /api/v2/silence/{id}``: Alertmanager's
  API v2 shapes (what ``amtool`` speaks).
- ``GET /api/v1/notifications`` lists what was sent or is waiting, with every attempt
  and its error (``?status=pending|delivered|dead&receiver=NAME&limit=N``).

Nothing here shows a secret: receivers are listed by name and integration kind only.
The server wraps these routes in the same token auth as the rest of the API.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from watchkeeper.monitor.model import Alert, labels_from
from watchkeeper.monitor.notify import Notifier, SilenceError
from watchkeeper.monitor.notify.matchers import MatcherError, parse_matcher
from watchkeeper.monitor.notify.silences import format_time, parse_time, silence_from_api
from watchkeeper.monitor.notify.views import config_view
from watchkeeper.monitor.web.json import dumps

__all__ = ["notify_routes"]

MAX_LIMIT = 1000


class BadRequest(ValueError):
    """Input the API cannot take; answered with 400 and the message."""


def _json(body: Any, status: int = 200) -> Response:
    return Response(dumps(body), status_code=status, media_type="application/json")


def _error(status: int, message: str) -> Response:
    # Alertmanager's API answers errors as a JSON string.
    return _json(message, status)


async def _body(request: Request) -> Any:
    try:
        return orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"request body is not JSON: {exc}") from None


def _alert_from_api(item: Any, i: int) -> Alert:
    if not isinstance(item, dict):
        raise BadRequest(f"alerts[{i}]: expected an object, got {item!r}")
    labels = item.get("labels")
    annotations = item.get("annotations") or {}
    if not isinstance(labels, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
    ):
        raise BadRequest(f"alerts[{i}].labels: expected an object of strings")
    if not isinstance(annotations, dict) or not all(
        isinstance(v, str) for v in annotations.values()
    ):
        raise BadRequest(f"alerts[{i}].annotations: expected an object of strings")
    starts = parse_time(item["startsAt"], f"alerts[{i}].startsAt") if item.get("startsAt") else 0
    ends = parse_time(item["endsAt"], f"alerts[{i}].endsAt") if item.get("endsAt") else 0
    return Alert(
        labels=labels_from(labels),
        annotations=tuple(sorted(annotations.items())),
        starts_at_ms=max(starts, 0),
        ends_at_ms=max(ends, 0),
        generator_url=str(item.get("generatorURL", "")),
    )


def _filters(request: Request) -> list[Any]:
    try:
        return [parse_matcher(f.strip("{}")) for f in request.query_params.getlist("filter")]
    except MatcherError as exc:
        raise BadRequest(f"filter: {exc}") from None


class NotifyApi:
    def __init__(self, notifier: Notifier) -> None:
        self.n = notifier

    async def post_alerts(self, request: Request) -> Response:
        body = await _body(request)
        if not isinstance(body, list):
            return _error(400, "expected a JSON list of alerts")
        alerts = [_alert_from_api(item, i) for i, item in enumerate(body)]
        errors = self.n.post_alerts(alerts)
        if errors:
            return _error(400, "; ".join(errors))
        return _json(None)

    def _gettable(self, entry: Any, now: int) -> dict[str, Any]:
        return {
            "labels": dict(entry.labels),
            "annotations": dict(entry.annotations),
            "startsAt": format_time(entry.starts_at_ms),
            "endsAt": format_time(entry.ends_at_ms),
            "updatedAt": format_time(entry.updated_at_ms),
            "generatorURL": entry.generator_url,
            "fingerprint": entry.fingerprint,
            "receivers": [{"name": r} for r in self.n.dispatcher.receivers_of(entry.labels)],
            "status": self.n.alert_status(entry, now),
        }

    async def get_alerts(self, request: Request) -> Response:
        """Alertmanager's filters: ``filter`` matchers, and ``active``, ``silenced``,
        ``inhibited`` (each true by default; false leaves alerts in that state out)."""
        now = self.n.clock()
        matchers = _filters(request)
        show = {
            key: request.query_params.get(key, "true").lower() != "false"
            for key in ("active", "silenced", "inhibited")
        }
        out = []
        for a in sorted(self.n.alerts.list(), key=lambda a: a.fingerprint):
            if a.resolved_at(now) or not all(m.matches(a.labels.get(m.name, "")) for m in matchers):
                continue
            item = self._gettable(a, now)
            status = item["status"]
            if status["state"] == "active" and not show["active"]:
                continue
            if status["silencedBy"] and not show["silenced"]:
                continue
            if status["inhibitedBy"] and not show["inhibited"]:
                continue
            out.append(item)
        return _json(out)

    async def get_groups(self, request: Request) -> Response:
        now = self.n.clock()
        out = []
        for group in self.n.dispatcher.groups():
            alerts = sorted(group.alerts.values(), key=lambda a: a.fingerprint)
            out.append(
                {
                    "labels": group.labels,
                    "receiver": {"name": group.route.receiver},
                    "alerts": [self._gettable(a, now) for a in alerts],
                }
            )
        return _json(out)

    async def get_silences(self, request: Request) -> Response:
        now = self.n.clock()
        matchers = _filters(request)
        out = []
        for s in self.n.silences.list(now):
            if all(any(m == sm for sm in s.matchers) for m in matchers):
                out.append(s.to_api(now))
        return _json(out)

    async def post_silence(self, request: Request) -> Response:
        body = await _body(request)
        if not isinstance(body, dict):
            return _error(400, "expected a JSON object (a postable silence)")
        now = self.n.clock()
        silence = self.n.silences.put(silence_from_api(body, now), now)
        return _json({"silenceID": silence.id})

    async def get_silence(self, request: Request) -> Response:
        silence = self.n.silences.get(request.path_params["id"])
        if silence is None:
            return _error(404, f"silence {request.path_params['id']} not found")
        return _json(silence.to_api(self.n.clock()))

    async def delete_silence(self, request: Request) -> Response:
        self.n.silences.expire(request.path_params["id"], self.n.clock())
        return _json(None)

    async def status(self, request: Request) -> Response:
        """Alertmanager's status (``amtool config show``); secrets shown as their source."""
        import io

        from ruamel.yaml import YAML

        from watchkeeper._version import __version__

        text = io.StringIO()
        YAML(typ="safe", pure=True).dump(config_view(self.n.config), text)
        return _json(
            {
                "cluster": {"name": "", "status": "disabled", "peers": []},
                "versionInfo": {
                    "version": __version__,
                    "revision": "",
                    "branch": "",
                    "buildUser": "watchkeeper",
                    "buildDate": "",
                    "goVersion": "embedded",
                },
                "config": {"original": text.getvalue()},
                "uptime": format_time(self.n.started_ms),
            }
        )

    async def receivers(self, request: Request) -> Response:
        return _json([{"name": name} for name in sorted(self.n.config.receivers)])

    async def notifications(self, request: Request) -> Response:
        params = request.query_params
        status = params.get("status") or None
        if status not in (None, "pending", "delivered", "dead"):
            return _error(400, f"status: expected pending, delivered or dead, got {status!r}")
        try:
            limit = min(int(params.get("limit", "100")), MAX_LIMIT)
        except ValueError:
            return _error(400, f"limit: expected an integer, got {params.get('limit')!r}")
        rows = self.n.store.notifications(
            status=status, receiver=params.get("receiver") or None, limit=max(limit, 1)
        )
        data = []
        for row, attempts in rows:
            alerts = row.message.get("alerts")
            data.append(
                {
                    "id": row.id,
                    "receiver": row.receiver,
                    "integration": row.integration,
                    "groupKey": row.group_key,
                    "status": row.status,
                    "alertStatus": row.message.get("status", ""),
                    "alerts": len(alerts) if isinstance(alerts, list) else 0,
                    "createdAt": format_time(row.created_ms),
                    "nextAttemptAt": format_time(row.next_attempt_ms)
                    if row.status == "pending"
                    else None,
                    "finishedAt": format_time(row.finished_ms) if row.finished_ms else None,
                    "lastError": row.last_error,
                    "attempts": [
                        {
                            "time": format_time(a.time_ms),
                            "receiver": a.receiver,
                            "integration": a.integration,
                            "groupKey": a.group_key,
                            "ok": a.ok,
                            "statusCode": a.status_code,
                            "error": a.error,
                            "durationMs": a.duration_ms,
                        }
                        for a in attempts
                    ],
                }
            )
        return _json({"status": "success", "data": data, "counts": dict(self.n.counts())})


Handler = Callable[[Request], Awaitable[Response]]


def _guard(handler: Handler) -> Handler:
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except SilenceError as exc:  # also bad times, from parse_time
            return _error(exc.status, str(exc))
        except BadRequest as exc:
            return _error(400, str(exc))

    return endpoint


def notify_routes(notifier: Notifier) -> list[BaseRoute]:
    """The notifier's routes, mounted by ``server.py`` next to the query API."""
    api = NotifyApi(notifier)
    table: list[tuple[str, Handler, list[str]]] = [
        ("/api/v2/alerts", api.get_alerts, ["GET"]),
        ("/api/v2/alerts", api.post_alerts, ["POST"]),
        ("/api/v2/alerts/groups", api.get_groups, ["GET"]),
        ("/api/v2/silences", api.get_silences, ["GET"]),
        ("/api/v2/silences", api.post_silence, ["POST"]),
        ("/api/v2/silence/{id}", api.get_silence, ["GET"]),
        ("/api/v2/silence/{id}", api.delete_silence, ["DELETE"]),
        ("/api/v2/receivers", api.receivers, ["GET"]),
        ("/api/v2/status", api.status, ["GET"]),
        ("/api/v1/notifications", api.notifications, ["GET"]),
    ]
    return [Route(path, _guard(h), methods=methods) for path, h, methods in table]
