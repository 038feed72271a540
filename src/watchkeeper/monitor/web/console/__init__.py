"""The web console: server-rendered pages (Starlette + Jinja2, charts with the
vendored uPlot) showing the golden signals, SLO budgets, alerts, targets and a
PromQL explorer, served by the monitor itself at ``/``.

``console_routes(ConsoleContext(...))`` gives the routes; ``server.py`` mounts them
next to the API behind the same token auth, limits and lifespan. Queries run on the
in-process engine (never HTTP to ourselves); silences go to the notifier directly.
"""

from __future__ import annotations

from watchkeeper.monitor.web.console.context import ConsoleContext
from watchkeeper.monitor.web.console.pages import console_routes
from watchkeeper.monitor.web.console.security import OriginCheckMiddleware

__all__ = ["ConsoleContext", "OriginCheckMiddleware", "console_routes"]
