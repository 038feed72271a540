"""The console's page handlers and routes.

Every page is a GET whose whole state is in its URL (``timerange.View`` plus
``service``/``expr``/``mode``), so any view can be bookmarked or pasted into an
incident channel. A page's queries run in one worker thread (``run_page``); the
HTML carries its chart data inline, so one request draws the page.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from watchkeeper.monitor.web.console.alerts import build_alerts, matchers_text, silence_body
from watchkeeper.monitor.web.console.context import ConsoleContext, Staleness
from watchkeeper.monitor.web.console.explore import run_explore
from watchkeeper.monitor.web.console.login import login, token_once
from watchkeeper.monitor.web.console.overview import build_overview
from watchkeeper.monitor.web.console.render import SECURITY_HEADERS, render
from watchkeeper.monitor.web.console.runner import Runner, run_page
from watchkeeper.monitor.web.console.security import (
    CSRF_FIELD,
    CsrfError,
    csrf_token,
    read_form,
    set_csrf_cookie,
)
from watchkeeper.monitor.web.console.service import build_service, fetch_health
from watchkeeper.monitor.web.console.slo import CURRENT_BURN, SLOStatus, slo_status
from watchkeeper.monitor.web.console.timerange import RANGES, REFRESHES, View, parse_view
from watchkeeper.monitor.web.params import ParamError, parse_duration_ms

__all__ = ["console_routes"]

STATIC = Path(__file__).parent / "static"
NAV = (
    ("overview", "/", "Overview"),
    ("slos", "/slos", "SLOs"),
    ("alerts", "/alerts", "Alerts"),
    ("targets", "/targets", "Targets"),
    ("explore", "/explore", "Explore"),
)

Handler = Callable[[Request, ConsoleContext], Awaitable[Response]]


class Console:
    def __init__(self, ctx: ConsoleContext) -> None:
        self.ctx = ctx

    # --- shared page frame ------------------------------------------------------------

    def _view(self, request: Request) -> View:
        return parse_view(request.query_params, self.ctx.api.now_ms())

    def _rule_warnings(self) -> list[str]:
        # Rule files that failed to load (the last good rules keep running): on every
        # page, like Prometheus' UI shows them, so a broken edit is never silent.
        try:
            return list(self.ctx.api.rule_warnings())[:20]
        except Exception:  # the banner is a courtesy; never fail a page over it
            return []

    def _page(
        self,
        request: Request,
        template: str,
        page: str,
        view: View,
        runner: Runner | None,
        stale: Staleness,
        status: int = 200,
        charts: dict[str, Any] | None = None,
        **context: Any,
    ) -> Response:
        token, new = csrf_token(request)
        extra = {
            k: v
            for k, v in request.query_params.items()
            if k in ("service", "expr", "mode", "step")
        }
        response = render(
            template,
            status,
            page=page,
            nav=NAV,
            view=view,
            ranges=list(RANGES),
            refreshes=list(REFRESHES),
            state=extra,
            stale=stale,
            rule_warnings=self._rule_warnings(),
            errors=runner.errors if runner is not None else [],
            csrf_field=CSRF_FIELD,
            csrf=token,
            services=self.ctx.services(),
            login=self.ctx.token is not None,
            rendered_ms=self.ctx.api.now_ms(),
            charts=charts or {},
            **context,
        )
        if new:
            set_csrf_cookie(response, token)
        return response

    # --- pages ------------------------------------------------------------------------

    async def overview(self, request: Request) -> Response:
        view = self._view(request)

        def build(runner: Runner) -> tuple[Any, Staleness, Runner]:
            return (
                build_overview(self.ctx, runner, view),
                self.ctx.staleness(runner, view.end_ms),
                runner,
            )

        cards, stale, runner = await run_page(self.ctx.api, build)
        charts = {f"{c.service}/{k}": v for c in cards for k, v in c.sparks.items()}
        return self._page(
            request, "overview.html", "overview", view, runner, stale, charts=charts, cards=cards
        )

    async def service(self, request: Request) -> Response:
        view = self._view(request)
        name = request.query_params.get("service", "")
        if not name:
            services = self.ctx.services()
            if not services:
                return RedirectResponse("/", status_code=303)
            return RedirectResponse(f"/service?{view.query(service=services[0])}", 303)

        def build(runner: Runner) -> tuple[Any, Staleness, Runner]:
            return (
                build_service(self.ctx, runner, view, name),
                self.ctx.staleness(runner, view.end_ms),
                runner,
            )

        data, stale, runner = await run_page(self.ctx.api, build)
        health = await fetch_health(self.ctx, name)
        spec = self.ctx.spec_of(name)
        return self._page(
            request,
            "service.html",
            "service",
            view,
            runner,
            stale,
            status=200 if data.known else 404,
            charts={
                _chart_key(t, i): c.to_json() for t, cs in data.sections for i, c in enumerate(cs)
            },
            section_key=_chart_key,
            service=name,
            data=data,
            health=health,
            slo_names=[s.name for s in spec.slos] if spec is not None else [],
        )

    async def slos(self, request: Request) -> Response:
        view = self._view(request)
        only = request.query_params.get("service", "")

        def build(runner: Runner) -> tuple[list[SLOStatus], Staleness, Runner]:
            out = []
            for spec in self.ctx.specs:
                if only and spec.service != only:
                    continue
                interval = self.ctx.rule_interval_ms(f"slo:sli_error:ratio_rate{CURRENT_BURN}")
                out += [
                    slo_status(runner, spec, slo, view, rule_interval_ms=interval)
                    for slo in spec.slos
                ]
            return out, self.ctx.staleness(runner, view.end_ms), runner

        statuses, stale, runner = await run_page(self.ctx.api, build)
        charts = {f"{s.service}/{s.name}": s.chart.to_json() for s in statuses if s.chart}
        return self._page(
            request,
            "slos.html",
            "slos",
            view,
            runner,
            stale,
            charts=charts,
            slos=statuses,
            specs=len(self.ctx.specs),
        )

    async def alerts(
        self, request: Request, *, form_error: str = "", form: dict[str, str] | None = None
    ) -> Response:
        view = self._view(request)
        stale, runner = await run_page(
            self.ctx.api, lambda r: (self.ctx.staleness(r, view.end_ms), r)
        )
        data = build_alerts(self.ctx, self.ctx.api.now_ms())
        silence_form = form or {}
        for_alert = request.query_params.get("silence")
        if for_alert is not None and not silence_form:
            for row in data.alerts:
                if row.name == for_alert or _row_id(row.labels) == for_alert:
                    silence_form = {"matchers": matchers_text(row.labels), "duration": "2h"}
                    break
        return self._page(
            request,
            "alerts.html",
            "alerts",
            view,
            runner,
            stale,
            status=400 if form_error else 200,
            data=data,
            form=silence_form,
            form_error=form_error,
            row_id=_row_id,
        )

    async def targets(self, request: Request) -> Response:
        view = self._view(request)
        stale, runner = await run_page(
            self.ctx.api, lambda r: (self.ctx.staleness(r, view.end_ms), r)
        )
        return self._page(
            request,
            "targets.html",
            "targets",
            view,
            runner,
            stale,
            scrapes=self.ctx.scrape_targets(),
            probes=self.ctx.probes(),
            now_s=time.time(),
        )

    async def explore(self, request: Request) -> Response:
        view = self._view(request)
        params = request.query_params
        expr = params.get("expr", "")
        mode = params.get("mode", "range")
        step_text = params.get("step", "")
        step_error = ""
        step_ms = None
        if step_text:
            try:
                step_ms = parse_duration_ms(step_text, "step")
            except ParamError as exc:
                step_error = str(exc)

        def build(runner: Runner) -> tuple[Any, Staleness, Runner]:
            result = run_explore(runner, view, expr, mode, step_ms)
            if step_error and not result.error:
                result.error = step_error
            # The query's own error is shown at the box, not in the page's error list.
            runner.errors = [e for e in runner.errors if e[0] != expr]
            return result, self.ctx.staleness(runner, view.end_ms), runner

        result, stale, runner = await run_page(self.ctx.api, build)
        return self._page(
            request,
            "explore.html",
            "explore",
            view,
            runner,
            stale,
            # 200 even for a bad query: the page itself rendered (the error is inline).
            charts={"explore": result.chart.to_json()} if result.chart else {},
            result=result,
            step=step_text,
        )

    # --- state-changing forms -----------------------------------------------------------

    async def _form(self, request: Request) -> dict[str, str]:
        return await read_form(request)

    async def create_silence(self, request: Request) -> Response:
        n = self.ctx.notifier
        if n is None:
            return _plain(503, "this monitor runs no notifier: silences are unavailable")
        try:
            form = await self._form(request)
        except CsrfError as exc:
            return _plain(403, str(exc))
        from watchkeeper.monitor.notify import SilenceError
        from watchkeeper.monitor.notify.silences import silence_from_api

        now = n.clock()
        try:
            body = silence_body(
                form.get("matchers", ""),
                form.get("duration", "2h"),
                form.get("author", ""),
                form.get("comment", ""),
                now,
            )
            silence = n.silences.put(silence_from_api(body, now), now)
        except (ValueError, SilenceError) as exc:
            return await self.alerts(request, form_error=str(exc), form=form)
        return RedirectResponse(f"/alerts?{urlencode({'created': silence.id})}#silences", 303)

    async def expire_silence(self, request: Request) -> Response:
        n = self.ctx.notifier
        if n is None:
            return _plain(503, "this monitor runs no notifier: silences are unavailable")
        try:
            form = await self._form(request)
        except CsrfError as exc:
            return _plain(403, str(exc))
        from watchkeeper.monitor.notify import SilenceError

        try:
            n.silences.expire(form.get("id", ""), n.clock())
        except SilenceError as exc:
            return await self.alerts(request, form_error=str(exc))
        return RedirectResponse("/alerts#silences", 303)


def _chart_key(section: str, index: int) -> str:
    return f"{section}/{index}"


def _plain(status: int, text: str) -> Response:
    return Response(
        text + "\n", status_code=status, media_type="text/plain", headers=SECURITY_HEADERS
    )


def _row_id(labels: dict[str, str]) -> str:
    from watchkeeper.monitor.notify.matchers import fingerprint

    return fingerprint(tuple(sorted(labels.items())))


def console_routes(ctx: ConsoleContext) -> list[BaseRoute]:
    """The console's routes, mounted by ``server.py`` next to the API (same auth)."""
    c = Console(ctx)
    pages: list[tuple[str, Callable[[Request], Awaitable[Response]]]] = [
        ("/", c.overview),
        ("/service", c.service),
        ("/slos", c.slos),
        ("/alerts", c.alerts),
        ("/targets", c.targets),
        ("/explore", c.explore),
    ]
    routes: list[BaseRoute] = [Route(p, token_once(ctx, h), methods=["GET"]) for p, h in pages]
    routes += [
        Route("/alerts/silences", c.create_silence, methods=["POST"]),
        Route("/alerts/silences/expire", c.expire_silence, methods=["POST"]),
        Route("/login", partial(login, ctx), methods=["GET", "POST"]),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    return routes
