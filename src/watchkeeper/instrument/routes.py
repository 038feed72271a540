"""Route templates: ``http_route`` is what the framework matched, never the raw path.

Starlette and FastAPI routers store the matched route object in ``scope["route"]``
(innermost one when routers are mounted). The mount prefixes are not in the scope
as templates (``root_path`` holds the *actual* prefix, e.g. ``/users/42``), so we
walk the routing tree once, map every route object to its full template, and look
it up per request: a dict hit, no regex matching on the hot path.

Any other framework (or a user) can set ``scope["watchkeeper.route"]`` (ASGI) or
``environ["watchkeeper.route"]`` (WSGI) to the template; Django and Flask adapters
do. A request that matched nothing gets the one constant ``UNMATCHED_ROUTE``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, MutableMapping
from typing import Any

from watchkeeper.instrument._semconv import UNMATCHED_ROUTE

__all__ = ["RouteResolver", "StarletteRoutes", "generic_route"]

RouteResolver = Callable[[MutableMapping[str, Any]], str]
_MAX_MISSES = 256  # route objects we failed to place; beyond it we stop rebuilding


def generic_route(scope: MutableMapping[str, Any]) -> str:
    """The template another layer stored, else the constant for unmatched requests."""
    route = scope.get("watchkeeper.route")
    return route if isinstance(route, str) and route else UNMATCHED_ROUTE


def _compile_prefix(path: str) -> tuple[str, str]:
    """(regex source, template) of a mount path like ``/users/{uid:int}``."""
    from starlette.routing import compile_path

    regex, fmt, _ = compile_path(path)
    return regex.pattern.rstrip("$").lstrip("^"), fmt


class StarletteRoutes:
    """Resolves ``scope["route"]`` of a Starlette/FastAPI app to its full template."""

    def __init__(self, app: Any) -> None:
        self._app = app
        # id(route) -> (route kept alive, [(mount-prefix regex or None, template)])
        self._map: dict[int, tuple[Any, list[tuple[re.Pattern[str] | None, str]]]] = {}
        # id(route) -> template for routes mounted at one prefix (nearly all): the ASGI
        # middleware reads it inline, without a call, and calls us for the rest.
        # Updated in place. An id is never stale: every route whose id is a key is kept
        # alive by _map (rebuilt in step with it), and a live object's id is unique.
        self.single: dict[int, str] = {}
        self._misses: set[int] = set()
        self.rebuild()

    def rebuild(self) -> None:
        from starlette.routing import Host, Mount

        found: dict[int, tuple[Any, list[tuple[str, str]]]] = {}

        def walk(routes: list[Any], regex: str, template: str, depth: int) -> None:
            if depth > 16:  # a router mounted inside itself: stop, do not recurse forever
                return
            for route in routes:
                if isinstance(route, Mount):
                    sub_regex, sub_fmt = _compile_prefix(route.path)
                    sub_routes = list(getattr(route, "routes", None) or [])
                    # requests into a mounted non-router app (StaticFiles, WSGI) end here
                    entry = found.setdefault(id(route), (route, []))
                    entry[1].append((regex + sub_regex, template + sub_fmt + "/{path}"))
                    walk(sub_routes, regex + sub_regex, template + sub_fmt, depth + 1)
                elif isinstance(route, Host):
                    walk(list(route.routes), regex, template, depth + 1)
                else:
                    fmt = getattr(route, "path_format", None) or getattr(route, "path", None)
                    if isinstance(fmt, str):
                        entry = found.setdefault(id(route), (route, []))
                        entry[1].append((regex, template + fmt))

        walk(list(getattr(self._app, "routes", [])), "", "", 0)
        new_map = {
            key: (
                route,
                [(re.compile(rx) if len(pairs) > 1 else None, tmpl) for rx, tmpl in pairs],
            )
            for key, (route, pairs) in found.items()
        }
        # single first, while the old map still keeps its routes (and so their ids) alive
        self.single.clear()
        self.single.update({k: pairs[0][1] for k, (_, pairs) in new_map.items() if len(pairs) == 1})
        self._map = new_map

    def __call__(self, scope: MutableMapping[str, Any]) -> str:
        route = scope.get("route")
        if route is None:
            return generic_route(scope)
        entry = self._map.get(id(route))
        if entry is None or entry[0] is not route:
            entry = self._on_miss(route)
            if entry is None:
                fmt = getattr(route, "path_format", None)
                return fmt if isinstance(fmt, str) and fmt else UNMATCHED_ROUTE
        candidates = entry[1]
        if len(candidates) == 1:
            return candidates[0][1]
        # The same router is mounted at several prefixes: tell them apart by the
        # actual prefix the request went through.
        prefix = scope.get("root_path", "")[len(scope.get("app_root_path", "")) :]
        for regex, template in candidates:
            if regex is not None and regex.fullmatch(prefix):
                return template
        return candidates[0][1]

    def _on_miss(self, route: Any) -> tuple[Any, list[tuple[re.Pattern[str] | None, str]]] | None:
        # Routes added after instrument() (include_router later, plugins): rebuild
        # once per unknown route object, boundedly.
        key = id(route)
        if key in self._misses or len(self._misses) >= _MAX_MISSES:
            return None
        self.rebuild()
        entry = self._map.get(key)
        if entry is None or entry[0] is not route:
            self._misses.add(key)
            return None
        return entry
