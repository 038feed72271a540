"""The one composition root of the embedded monitor: storage, scraping, PromQL and the
HTTP API, wired together and served by uvicorn.

Subsystems never import each other; they meet here through ``Appendable``,
``Queryable`` and the engine. ``Monitor`` owns their lifetimes: the ASGI lifespan
starts the scrape loop, and shutdown (SIGTERM/SIGINT, handled by uvicorn) stops
scrapes, commits what was appended and closes the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import uvicorn
from starlette.applications import Starlette
from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import BaseRoute
from starlette.types import ASGIApp

from watchkeeper.errors import ConfigurationError
from watchkeeper.monitor.model import Appendable, NotifyFunc, Queryable
from watchkeeper.monitor.probe.config import ProbeConfig
from watchkeeper.monitor.web.api import ApiDeps, QueryEngine, api_routes
from watchkeeper.monitor.web.auth import TokenAuthMiddleware, generate_token, is_loopback
from watchkeeper.monitor.web.hostcheck import LoopbackHostMiddleware
from watchkeeper.monitor.web.limits import LimitsMiddleware
from watchkeeper.monitor.web.metrics import MonitorMetrics
from watchkeeper.monitor.web.targets import TargetView

if TYPE_CHECKING:
    from watchkeeper.monitor.notify import Notifier
    from watchkeeper.monitor.probe import ProbeManager
    from watchkeeper.monitor.remote_write import RemoteWriteConfig, RemoteWriter
    from watchkeeper.monitor.rules import GroupSpec, RulesManager, RuleSource
    from watchkeeper.monitor.scrape import ScrapeManager

__all__ = [
    "DEFAULT_LISTEN",
    "Monitor",
    "MonitorConfig",
    "ScrapeTarget",
    "Store",
    "build_engine",
    "build_notifier",
    "load_probes",
    "load_targets",
    "parse_listen",
    "resolve_token",
    "open_store",
    "rule_sources",
    "scrape_targets",
    "serve",
    "spec_less_jobs",
]

log = logging.getLogger("watchkeeper.monitor")

DEFAULT_LISTEN = "127.0.0.1:9099"
DEFAULT_SCRAPE_INTERVAL_S = 15.0


class Store(Appendable, Queryable, Protocol):
    """What ``open_storage`` returns: the two protocols plus lifetime and statistics."""

    def close(self) -> None: ...

    def stats(self) -> Mapping[str, float]: ...


@dataclass(frozen=True)
class ScrapeTarget:
    """One target to scrape, from ``--target`` flags or the spec's scrape jobs."""

    job: str
    url: str
    interval_s: float = DEFAULT_SCRAPE_INTERVAL_S
    timeout_s: float | None = None  # default: the interval, capped at 10 s
    # The app's readiness endpoint next to its /metrics, probed as job "<job>-health"
    # (see watchkeeper.monitor.probe.defaults); None: no health probe for this target.
    health_path: str | None = "/ready"
    # Added to every scraped series, like a static_configs entry's labels.
    labels: Mapping[str, str] = field(default_factory=dict)

    def effective_timeout_s(self) -> float:
        return self.timeout_s if self.timeout_s is not None else min(self.interval_s, 10.0)


@dataclass
class MonitorConfig:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 9099
    token: str | None = None
    retention_seconds: float | None = None
    retention_bytes: int | None = None
    # Prometheus' defaults for --query.timeout and --query.max-samples.
    query_timeout_s: float = 120.0
    query_max_samples: int = 50_000_000
    targets: Sequence[ScrapeTarget] = field(default_factory=list)
    # The spec whose notify: section configures the notifier (None: a "default"
    # receiver with no integrations; silences and /api/v2/alerts still work).
    spec_path: Path | None = None
    # External Alertmanagers that receive every alert (POST /api/v2/alerts).
    alertmanager_urls: Sequence[str] = ()
    # Synthetic probes besides the health probes the targets get (http dependencies, --probe).
    probes: Sequence[ProbeConfig] = field(default_factory=list)
    # Conditions replacing the default (any 2xx) of every probe of a job, health probes too.
    probe_conditions: Mapping[str, Sequence[str]] = field(default_factory=dict)
    # Rule files to evaluate (--rules), besides the rules generated from spec_path.
    rule_files: Sequence[Path] = ()
    spec_rules: bool = True  # evaluate the rules `watchkeeper generate` writes for spec_path
    # Prometheus' global.evaluation_interval and --rules.alert.* flags, same defaults.
    evaluation_interval_s: float = 60.0
    alert_resend_delay_s: float = 60.0
    alert_for_outage_tolerance_s: float = 3600.0
    alert_for_grace_period_s: float = 600.0
    # Prometheus remote write receivers that get every committed sample (--remote-write).
    remote_write: Sequence[RemoteWriteConfig] = ()


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:9099`` for IPv6) as a (host, port) pair."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host or not 0 < int(port) < 65536:
        raise ConfigurationError(
            f"--listen: expected HOST:PORT such as 127.0.0.1:9099, got {text!r}"
        )
    return host.strip("[]"), int(port)


def resolve_token(host: str, token: str | None) -> tuple[str | None, bool]:
    """The token to enforce and whether it was generated here (so the caller prints it).

    Loopback needs none (a given token is still enforced); any other address gets
    one, generated when the user gave none, because an open PromQL endpoint leaks
    every label of every series.
    """
    if token:
        return token, False
    if is_loopback(host):
        return None, False
    return generate_token(), True


def load_targets(spec_path: Path) -> tuple[str, list[ScrapeTarget]]:
    """The service name and the targets of its own job (``targets:``); ``scrape_targets``
    has every job of the spec."""
    targets = scrape_targets(spec_path)
    service = targets[0].job  # the service's job comes first and has a target at least
    return service, [t for t in targets if t.job == service]


def scrape_targets(spec_path: Path, flags: Sequence[ScrapeTarget] = ()) -> list[ScrapeTarget]:
    """``flags`` (the ``--target`` flags), then every scrape job `watchkeeper generate`
    writes into prometheus.yml for the spec: the same job names, targets, metrics path,
    labels and interval (generate's ``scrape_jobs``), so the rules run unchanged on both.

    The service's job is probed for readiness at ``kubernetes.readiness_path``; an
    exporter job is not (an exporter has no readiness endpoint). A flag whose job is one
    of the spec's exporter jobs replaces the spec's ``exporter:`` address for that job (a
    local stand-in, such as an endpoint of the app): it gets the job's labels and no
    readiness probe either. Other flags are scraped as given, as services.
    """
    from watchkeeper.generate.scrape_jobs import scrape_jobs
    from watchkeeper.spec import load_spec

    spec = load_spec(spec_path)  # SpecProblems (a SpecError) names file:line
    interval_s = float(spec.scrape_interval.seconds) or DEFAULT_SCRAPE_INTERVAL_S
    jobs = [j for j in scrape_jobs(spec) if j.kind != "blackbox"]  # load_probes has those
    exporters = {j.name: j for j in jobs if j.kind == "exporter"}
    replaced = {t.job for t in flags} & exporters.keys()
    targets = [
        replace(t, labels={**exporters[t.job].labels, **t.labels}, health_path=None)
        if t.job in exporters
        else t
        for t in flags
    ]
    for job in jobs:
        if job.name in replaced:
            continue
        health = spec.kubernetes.readiness_path if job.kind == "service" else None
        targets.extend(
            ScrapeTarget(job.name, url, interval_s, health_path=health, labels=dict(job.labels))
            for url in job.urls
        )
    return targets


def load_probes(spec_path: Path) -> list[ProbeConfig]:
    """The spec's blackbox jobs (its ``http`` dependencies) as probes, the way the
    generated prometheus.yml has blackbox_exporter probe them: job
    ``<service>-<dependency>``, instance = the URL, label ``dependency``, module http_2xx
    (any 2xx), every ``scrape_interval``."""
    from watchkeeper.generate.scrape_jobs import scrape_jobs
    from watchkeeper.spec import load_spec

    spec = load_spec(spec_path)
    interval_s = float(spec.scrape_interval.seconds) or DEFAULT_SCRAPE_INTERVAL_S
    return [
        ProbeConfig(
            job=job.name,
            target=url,
            labels=dict(job.labels),
            interval_s=interval_s,
            timeout_s=min(interval_s, 10.0),
        )
        for job in scrape_jobs(spec)
        if job.kind == "blackbox"  # module http_2xx: ProbeConfig's default, any 2xx
        for url in job.urls
    ]


# Storage statistics that only ever grow while the store is open: exported as counters.
_COUNTER_STATS = (
    "samples_appended",
    "rejected_",
    "commits",
    "wal_bytes_written",
    "head_cuts",
    "compactions",
    "blocks_deleted",
)


def _is_counter_stat(key: str) -> bool:
    return key.startswith(_COUNTER_STATS)


def open_store(config: MonitorConfig) -> Store:
    from watchkeeper.monitor.storage import open_storage

    store: Store = open_storage(
        config.data_dir,
        retention_seconds=config.retention_seconds,
        retention_bytes=config.retention_bytes,
    )
    return store


class Monitor:
    """The wired subsystems and their lifetimes; ``app`` is the ASGI application to serve."""

    def __init__(
        self,
        config: MonitorConfig,
        *,
        store: Store | None = None,
        engine_factory: Callable[[Queryable], QueryEngine] | None = None,
        pages: Callable[[ApiDeps], Sequence[BaseRoute]] = lambda deps: (),
        console: bool = False,
    ) -> None:
        if not is_loopback(config.host) and not config.token:
            raise ConfigurationError(
                f"refusing to listen on {config.host} without a token: anyone who can reach it "
                "could read every series; pass --token or set WATCHKEEPER_TOKEN"
            )
        self.config = config
        self.metrics = MonitorMetrics()
        self.store = store if store is not None else open_store(config)
        self.metrics.add_stats("watchkeeper_tsdb", self.store.stats, _is_counter_stat)
        if engine_factory is not None:
            self.engine = engine_factory(self.store)
        else:
            self.engine = build_engine(
                self.store, timeout_s=config.query_timeout_s, max_samples=config.query_max_samples
            )
        self.scrapes: ScrapeManager | None = None
        self.probes: ProbeManager | None = None
        # What scrapes, probes and rules append to: the store, or the store plus a copy of
        # each committed batch for the remote write queues.
        self.remote_writers: list[RemoteWriter] = []
        self.appendable: Appendable = self.store
        if config.remote_write:
            self.appendable = _remote_write(self, config.remote_write)
        # Scrapes and probes append to one store: one writer at a time, through this lock.
        writer_lock = threading.RLock()
        try:
            if config.targets:
                self.scrapes = _scrape_manager(self.appendable, config.targets, writer_lock)
            probes = _with_conditions(
                [*config.probes, *_health_probes(config.targets)], config.probe_conditions
            )
            if probes:
                self.probes = _probe_manager(self.appendable, probes, writer_lock)
            self.notifier: Notifier = build_notifier(config)
            self.metrics.add_stats(
                "watchkeeper_notify", self.notifier.stats, lambda key: key.endswith("_total")
            )
        except ConfigurationError:
            if store is None:  # we opened it: release its lock before failing
                self.store.close()
            raise
        self._scrape_task: asyncio.Task[None] | None = None
        self._probe_task: asyncio.Task[None] | None = None
        # What the rules engine calls with the alerts due at each evaluation.
        self.notify: NotifyFunc = self.notifier.notify
        # Rule evaluation (spec rules and --rules files); alerts go through self.notify.
        self.rules: RulesManager | None = _rules_manager(self, writer_lock)
        self._rules_task: asyncio.Task[None] | None = None
        self._ready = False
        self._closed = False
        deps = ApiDeps(
            engine=self.engine,
            storage=self.store,
            targets=self.target_status,
            ready=lambda: self._ready,
            metrics=self.metrics,
        )
        if self.rules is not None:
            deps.rule_groups = self.rules.rule_groups_json
            deps.alerts = self.rules.alerts_json
            deps.rule_warnings = self.rules.load_errors
        # The console's pages (same auth, limits and lifespan) go next to the API.
        routes = [*api_routes(deps), *_notify_routes(self.notifier), *pages(deps)]
        if console:
            routes += _console_routes(config, deps, self.notifier)
        app: ASGIApp = Starlette(routes=routes, lifespan=self._lifespan)
        # Range queries over many series answer megabytes of JSON; Prometheus gzips
        # them for clients that accept it (Grafana does). Level 1: most of the
        # saving for a fraction of the CPU.
        app = GZipMiddleware(app, minimum_size=64 << 10, compresslevel=1)
        # Browsers: no state change from another site's page (CSRF), with or without a token.
        app = _origin_check(app)
        if config.token:
            app = TokenAuthMiddleware(app, token=config.token)
        else:
            # Loopback without a token: only requests addressed to a loopback name
            # (a rebound DNS name would make another site's page same-origin).
            app = LoopbackHostMiddleware(app)
        self.app: ASGIApp = LimitsMiddleware(app)

    @property
    def closed(self) -> bool:
        return self._closed

    def target_status(self) -> Sequence[TargetView]:
        """Scrape targets, then probes (each probe job a pool of its own, as on Prometheus)."""
        views: list[TargetView] = []
        if self.scrapes is not None:
            views.extend(self.scrapes.status())
        if self.probes is not None:
            views.extend(self.probes.status())
        return views

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: object) -> AsyncIterator[None]:
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    async def start(self) -> None:
        await self.notifier.start()
        for writer in self.remote_writers:
            writer.start()
        if self.scrapes is not None:
            self._scrape_task = asyncio.create_task(self.scrapes.run(), name="watchkeeper-scrape")
        if self.probes is not None:
            self._probe_task = asyncio.create_task(self.probes.run(), name="watchkeeper-probe")
        if self.rules is not None:
            self._rules_task = asyncio.create_task(self.rules.run(), name="watchkeeper-rules")
        self._ready = True

    async def stop(self) -> None:
        """Stop scraping, make every appended sample durable, close the store (idempotent)."""
        self._ready = False
        if self._closed:
            return
        self._closed = True
        try:
            for name, manager, task in (
                ("rules", self.rules, self._rules_task),
                ("scrape", self.scrapes, self._scrape_task),
                ("probe", self.probes, self._probe_task),
            ):
                try:
                    if manager is not None:
                        await manager.stop()
                    if task is not None:
                        await asyncio.wait_for(task, timeout=10)
                except (asyncio.CancelledError, TimeoutError):
                    pass
                except Exception:  # a broken loop must not keep the store from closing
                    log.exception("watchkeeper: the %s loop failed while stopping", name)
        finally:
            # Each sends what it has queued, up to its flush deadline; all at once.
            stopped = await asyncio.gather(
                *(asyncio.to_thread(w.stop) for w in self.remote_writers), return_exceptions=True
            )
            for writer, result in zip(self.remote_writers, stopped, strict=True):
                if isinstance(result, Exception):
                    name = writer.config.name
                    log.error("watchkeeper: remote write %s failed to stop: %s", name, result)
            try:
                await self.notifier.stop()
            except Exception:  # pending notifications stay in the outbox for the next start
                log.exception("watchkeeper: the notifier failed while stopping")
            self.store.commit()
            self.store.close()


def build_engine(
    storage: Queryable, *, timeout_s: float = 120.0, max_samples: int = 50_000_000
) -> QueryEngine:
    from watchkeeper.monitor.promql import Engine

    engine: QueryEngine = Engine(storage, timeout_s=timeout_s, max_samples=max_samples)
    return engine


def rule_sources(config: MonitorConfig) -> list[RuleSource]:
    """The spec's generated rules (regenerated when the spec changes), then --rules files."""
    from watchkeeper.monitor.rules import file_source

    sources = []
    if config.spec_path is not None and config.spec_rules:
        sources.append(_spec_rule_source(config.spec_path))
    if config.spec_rules and (jobs := spec_less_jobs(config)):
        sources.append(_job_rule_source(jobs))
    sources.extend(file_source(p) for p in config.rule_files)
    return sources


def spec_less_jobs(config: MonitorConfig) -> list[str]:
    """Scrape jobs no spec describes (``--target`` without ``-f``, or besides the spec's
    jobs: its service's and its dependencies')."""
    specced: set[str] = set()
    if config.spec_path is not None:
        from watchkeeper.errors import SpecError
        from watchkeeper.generate.scrape_jobs import scrape_jobs
        from watchkeeper.spec import load_spec

        try:
            specced.update(j.name for j in scrape_jobs(load_spec(config.spec_path)))
        except (SpecError, OSError):
            pass  # the spec's own source reports the problem
    return sorted({t.job for t in config.targets} - specced)


def _job_rule_source(jobs: Sequence[str]) -> RuleSource:
    """The golden-signal recording rules (rates, error ratio, p50/p95/p99) for scrape
    jobs without a spec, built by the same generator as a spec's, recording rules only:
    the console and dashboards read them, and no alert fires for a service nobody specced.
    """
    from watchkeeper.monitor.rules import RuleSource, parse_rule_text

    def read() -> list[GroupSpec]:
        from watchkeeper.generate.golden import golden_group
        from watchkeeper.generate.rules import rules_artifact
        from watchkeeper.spec.model import ServiceSpec

        groups = []
        for job in jobs:
            # Not validated: a job name is any label value (the generator quotes it),
            # not only what a spec's ``service:`` accepts.
            spec = ServiceSpec.model_construct(service=job)
            artifact = rules_artifact(spec, "scrape jobs", [golden_group(spec)])
            groups.extend(parse_rule_text(artifact.text, f"<golden rules of scrape job {job!r}>"))
        return groups

    return RuleSource("<golden rules of spec-less scrape jobs>", lambda: tuple(jobs), read)


def _spec_rule_source(spec_path: Path) -> RuleSource:
    """The very rules `watchkeeper generate` writes for the spec, built in memory."""
    from watchkeeper.errors import SpecError
    from watchkeeper.monitor.rules import RuleFileError, RuleSource, parse_rule_text

    def stamp() -> object:
        try:
            st = spec_path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def read() -> list[GroupSpec]:
        from watchkeeper.generate import build_rule_groups
        from watchkeeper.generate.rules import rules_artifact
        from watchkeeper.spec import load_spec

        try:
            spec = load_spec(spec_path)
            artifact = rules_artifact(spec, spec_path.name, build_rule_groups(spec))
        except (SpecError, OSError) as exc:
            raise RuleFileError([str(exc)]) from None
        return parse_rule_text(artifact.text, f"{spec_path} ({artifact.path})")

    return RuleSource(str(spec_path), stamp, read)


def _rules_manager(monitor: Monitor, writer_lock: threading.RLock) -> RulesManager | None:
    from watchkeeper.monitor.rules import RulesConfig, RulesManager

    config = monitor.config
    sources = rule_sources(config)
    if not sources:
        return None
    return RulesManager(
        sources,
        query=monitor.engine.instant_query,
        appendable=monitor.appendable,
        queryable=monitor.store,
        write_lock=writer_lock,
        # Late-bound, so whoever replaces Monitor.notify gets the alerts.
        notify=lambda alerts: monitor.notify(alerts),
        data_dir=config.data_dir,
        config=RulesConfig(
            evaluation_interval_s=config.evaluation_interval_s,
            resend_delay_s=config.alert_resend_delay_s,
            outage_tolerance_s=config.alert_for_outage_tolerance_s,
            for_grace_period_s=config.alert_for_grace_period_s,
            external_url=f"http://{_url_host(config.host)}:{config.port}",
        ),
    )


def build_notifier(config: MonitorConfig) -> Notifier:
    """The notifier for ``config``: routes and receivers from the spec's ``notify:``
    section (the generated alertmanager.yml), state in ``<data_dir>/notify``."""
    from watchkeeper.errors import SpecError
    from watchkeeper.monitor.notify import ConfigError, Notifier, config_from_spec, parse_config

    external = f"http://{_url_host(config.host)}:{config.port}"
    try:
        if config.spec_path is not None:
            notify_config = config_from_spec(config.spec_path, external_url=external)
        else:
            default = {"route": {"receiver": "default"}, "receivers": [{"name": "default"}]}
            notify_config = parse_config(default, external_url=external)
    except (ConfigError, SpecError) as exc:
        raise ConfigurationError(f"notify: {exc}") from None
    return Notifier(notify_config, config.data_dir, forward_to=config.alertmanager_urls)


def _notify_routes(notifier: Notifier) -> Sequence[BaseRoute]:
    from watchkeeper.monitor.web.notify_api import notify_routes

    return notify_routes(notifier)


def _console_routes(config: MonitorConfig, deps: ApiDeps, notifier: Notifier) -> list[BaseRoute]:
    """The web console at ``/`` (pages, static assets, login), reading the spec's SLOs."""
    from watchkeeper.monitor.web.console import ConsoleContext, console_routes
    from watchkeeper.spec import load_spec

    specs = [load_spec(config.spec_path)] if config.spec_path is not None else []
    ctx = ConsoleContext(api=deps, notifier=notifier, specs=specs, token=config.token)
    return console_routes(ctx)


def _origin_check(app: ASGIApp) -> ASGIApp:
    from watchkeeper.monitor.web.console.security import OriginCheckMiddleware

    return OriginCheckMiddleware(app)


def _remote_write(monitor: Monitor, configs: Sequence[RemoteWriteConfig]) -> Appendable:
    from watchkeeper.monitor.remote_write import (
        RemoteWriteAppendable,
        RemoteWriteCollector,
        RemoteWriter,
    )

    monitor.remote_writers = [RemoteWriter(c) for c in configs]
    monitor.metrics.registry.register(RemoteWriteCollector(monitor.remote_writers))
    return RemoteWriteAppendable(monitor.store, monitor.remote_writers)


def _scrape_manager(
    appendable: Appendable, targets: Sequence[ScrapeTarget], writer_lock: threading.RLock
) -> ScrapeManager:
    from watchkeeper.monitor.scrape import ScrapeManager, TargetConfig

    try:
        configs = [
            TargetConfig(
                job=t.job,
                url=t.url,
                interval_s=t.interval_s,
                timeout_s=t.effective_timeout_s(),
                labels=dict(t.labels),
            )
            for t in targets
        ]
        return ScrapeManager(appendable, configs, writer_lock=writer_lock)
    except ValueError as exc:  # the scrape package names the target and the fix
        raise ConfigurationError(f"scrape targets: {exc}") from None


def _health_probes(targets: Sequence[ScrapeTarget]) -> list[ProbeConfig]:
    """One readiness probe per distinct (job, health URL) of the scrape targets."""
    from watchkeeper.monitor.probe import health_probe

    probes: dict[tuple[str, str], ProbeConfig] = {}
    for t in targets:
        if t.health_path is None:
            continue
        try:
            probe = health_probe(
                t.job,
                t.url,
                path=t.health_path,
                interval_s=t.interval_s,
                timeout_s=t.effective_timeout_s(),
            )
        except ValueError as exc:
            raise ConfigurationError(f"health probes: {exc}") from None
        probes.setdefault(probe.key, probe)
    return list(probes.values())


def _with_conditions(
    probes: Sequence[ProbeConfig], conditions: Mapping[str, Sequence[str]]
) -> list[ProbeConfig]:
    jobs = {p.job for p in probes}
    unknown = sorted(set(conditions) - jobs)
    if unknown:
        raise ConfigurationError(
            f"probe conditions for job(s) {', '.join(map(repr, unknown))}, but no probe has that "
            f"job; probe jobs are: {', '.join(sorted(jobs)) or 'none'}"
        )
    try:
        return [
            replace(p, conditions=tuple(conditions[p.job])) if p.job in conditions else p
            for p in probes
        ]
    except ValueError as exc:  # names the probe, the condition, the column and the fix
        raise ConfigurationError(f"probes: {exc}") from None


def _probe_manager(
    appendable: Appendable, probes: Sequence[ProbeConfig], writer_lock: threading.RLock
) -> ProbeManager:
    from watchkeeper.monitor.probe import ProbeManager

    try:
        return ProbeManager(appendable, probes, writer_lock=writer_lock)
    except ValueError as exc:  # the probe package names the probe and the fix
        raise ConfigurationError(f"probes: {exc}") from None


def serve(
    config: MonitorConfig,
    *,
    on_listening: Callable[[str], None] | None = None,
    console: bool = False,
) -> None:
    """Run the monitor (with the web console at ``/`` when ``console``) until
    SIGTERM/SIGINT, then shut down cleanly."""
    monitor = Monitor(config, console=console)
    url = f"http://{_url_host(config.host)}:{config.port}"
    if on_listening is not None:
        on_listening(url)
    server = _GracefulServer(
        uvicorn.Config(
            monitor.app,
            host=config.host,
            port=config.port,
            lifespan="on",
            log_level=os.environ.get("WATCHKEEPER_LOG_LEVEL", "warning").lower(),
            access_log=False,
            timeout_graceful_shutdown=10,
            server_header=False,
        )
    )
    try:
        server.run()
    finally:
        # The lifespan already closed the store unless uvicorn failed before startup.
        if not monitor.closed:
            asyncio.run(monitor.stop())
    log.info("watchkeeper: stopped cleanly")


class _GracefulServer(uvicorn.Server):
    """uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown, so the process
    would die "by signal"; ours has committed and closed the store by then and exits 0,
    which is what service managers and scripts treat as a clean stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            yield
            self._captured_signals.clear()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
