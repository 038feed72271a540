"""The API's other endpoints: series and label metadata, targets, rules, status, probes
and the monitor's own ``/metrics``."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from watchkeeper._version import __version__
from watchkeeper.monitor.model import Labels, Matcher
from watchkeeper.monitor.web.deps import ApiDeps
from watchkeeper.monitor.web.json import success_body
from watchkeeper.monitor.web.params import MAX_TIME_MS, MIN_TIME_MS, ParamError
from watchkeeper.monitor.web.request import RequestParams, json_response
from watchkeeper.monitor.web.targets import render_targets

__all__ = [
    "PROMETHEUS_API_VERSION",
    "alerts",
    "buildinfo",
    "empty_list",
    "empty_object",
    "healthy",
    "label_values",
    "labels",
    "metrics",
    "ready",
    "rules",
    "series",
    "targets",
]

_LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def _series_in_range(deps: ApiDeps, sets: list[list[Matcher]], start: int, end: int) -> set[Labels]:
    """Label sets of the series matching any of ``sets`` with samples in [start, end].

    A store may list series without reading samples (``series(matchers, mint, maxt)``
    yielding label sets); otherwise ``select`` tells which series have samples.
    """
    lister: Callable[[Sequence[Matcher], int, int], Iterable[Labels]] | None
    lister = getattr(deps.storage, "series", None)
    seen: set[Labels] = set()
    for matchers in sets:
        if lister is not None:
            seen.update(lister(matchers, start, end))
        else:
            seen.update(s.labels for s in deps.storage.select(matchers, start, end))
    return seen


async def series(request: Request, deps: ApiDeps) -> Response:
    params = await RequestParams.read(request)
    sets = params.matcher_sets(required=True)
    start = params.optional_time("start", MIN_TIME_MS)
    end = params.optional_time("end", MAX_TIME_MS)
    found = _series_in_range(deps, sets, start, end)
    return json_response(success_body([dict(labels) for labels in sorted(found)]))


def _bounded(params: RequestParams) -> tuple[int, int, bool]:
    start = params.optional_time("start", MIN_TIME_MS)
    end = params.optional_time("end", MAX_TIME_MS)
    return start, end, (start, end) != (MIN_TIME_MS, MAX_TIME_MS)


async def labels(request: Request, deps: ApiDeps) -> Response:
    params = await RequestParams.read(request)
    start, end, bounded = _bounded(params)
    sets = params.matcher_sets(required=False)
    names: set[str] = set()
    if sets and bounded:
        # Like Prometheus: only series with samples in the range count (Grafana asks
        # this for the dashboard's time range). Unfiltered, the index answers.
        for found in _series_in_range(deps, sets, start, end):
            names.update(k for k, _ in found)
    else:
        for matchers in sets or [[]]:
            names.update(deps.storage.label_names(matchers))
    return json_response(success_body(sorted(names)))


async def label_values(request: Request, deps: ApiDeps) -> Response:
    name = request.path_params["name"]
    if not _LABEL_NAME_RE.match(name):
        raise ParamError(f'invalid label name: "{name}"')
    params = await RequestParams.read(request)
    start, end, bounded = _bounded(params)
    sets = params.matcher_sets(required=False)
    values: set[str] = set()
    if sets and bounded:
        for found in _series_in_range(deps, sets, start, end):
            values.update(v for k, v in found if k == name)
    else:
        for matchers in sets or [[]]:
            values.update(deps.storage.label_values(name, matchers))
    return json_response(success_body(sorted(values)))


async def targets(request: Request, deps: ApiDeps) -> Response:
    state = request.query_params.get("state", "").lower()
    if state not in ("", "any", "active", "dropped"):
        raise ParamError(f'invalid parameter "state": {state!r} is not one of active, dropped, any')
    return json_response(success_body(render_targets(list(deps.targets()), state)))


# The Prometheus API level this server implements (endpoints, shapes, errors).
# Clients such as Grafana parse "version" as Prometheus' to choose which endpoints
# and parameters to use, so it carries that level, as other compatible servers do;
# watchkeeper's own version is in "applicationVersion".
PROMETHEUS_API_VERSION = "2.42.0"


async def buildinfo(request: Request, deps: ApiDeps) -> Response:
    return json_response(
        success_body(
            {
                "version": PROMETHEUS_API_VERSION,
                "revision": "",
                "branch": "",
                "buildUser": "watchkeeper",
                "buildDate": "",
                "goVersion": "",
                "application": "watchkeeper",
                "applicationVersion": __version__,
            }
        )
    )


async def rules(request: Request, deps: ApiDeps) -> Response:
    kind = request.query_params.get("type", "")
    if kind not in ("", "alert", "record"):
        raise ParamError(f'invalid parameter "type": {kind!r} is not one of alert, record')
    groups = deps.rule_groups()
    if kind:
        groups = [
            {**g, "rules": [r for r in g.get("rules", []) if r.get("type") == f"{kind}ing"]}
            for g in groups
        ]
    return json_response(success_body({"groups": groups}, deps.rule_warnings()))


async def alerts(request: Request, deps: ApiDeps) -> Response:
    return json_response(success_body({"alerts": deps.alerts()}))


async def empty_object(request: Request, deps: ApiDeps) -> Response:
    return json_response(success_body({}))


async def empty_list(request: Request, deps: ApiDeps) -> Response:
    return json_response(success_body([]))


async def healthy(request: Request, deps: ApiDeps) -> Response:
    return PlainTextResponse("watchkeeper is Healthy.\n")


async def ready(request: Request, deps: ApiDeps) -> Response:
    if deps.ready():
        return PlainTextResponse("watchkeeper is Ready.\n")
    return PlainTextResponse("Service Unavailable", status_code=503)


async def metrics(request: Request, deps: ApiDeps) -> Response:
    return Response(generate_latest(deps.metrics.registry), media_type=CONTENT_TYPE_LATEST)
