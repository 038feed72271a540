"""``watchkeeper up``, ``watchkeeper query`` and ``watchkeeper tsdb import``.

Thin: parse arguments, call ``watchkeeper.monitor``, print, set the exit code.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from watchkeeper.errors import ConfigurationError, QueryError, SpecError, StorageError

if TYPE_CHECKING:
    from watchkeeper.monitor.probe import ProbeConfig
    from watchkeeper.monitor.promql.value import Value
    from watchkeeper.monitor.remote_write import RemoteWriteConfig
    from watchkeeper.monitor.server import MonitorConfig, ScrapeTarget, Store

__all__ = ["query", "tsdb", "up"]

# The same as watchkeeper.monitor.server.DEFAULT_LISTEN, spelled here so that
# building the command line never imports the monitor (it needs the 'monitor' extra).
_DEFAULT_LISTEN = "127.0.0.1:9099"
_DATA_DIR_HELP = "Directory of the embedded time-series store."
_JOB_RE = re.compile(r"^[A-Za-z0-9_.:-]+$")
_SIZE_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*([KMGTP]?i?B)?$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50}


def _require_monitor() -> None:
    """Fail with an install hint, not a traceback, when the 'monitor' extra is missing."""
    try:
        import numpy  # noqa: F401
        import promql_parser  # noqa: F401
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ModuleNotFoundError as exc:
        raise click.ClickException(
            f"this command needs the 'monitor' extra (missing {exc.name}): "
            "pip install 'watchkeeper[monitor]'"
        ) from None


def _duration_s(value: str, option: str) -> float:
    from watchkeeper.monitor.web.params import ParamError, parse_duration_ms

    try:
        return parse_duration_ms(value, option) / 1000
    except ParamError:
        raise click.BadParameter(
            f"{value!r} is not a duration such as 15s, 5m or 15d", param_hint=option
        ) from None


def _size_bytes(value: str, option: str) -> int:
    match = _SIZE_RE.match(value.strip())
    if match is None:
        raise click.BadParameter(
            f"{value!r} is not a size such as 512MB or 10GB", param_hint=option
        )
    unit = (match.group(2) or "").upper()[:1]
    return int(float(match.group(1)) * _SIZE_UNITS[unit if unit != "B" else ""])


def _parse_target(text: str, interval_s: float) -> ScrapeTarget:
    from watchkeeper.monitor.server import ScrapeTarget

    job, sep, url = text.partition("=")
    if not sep or not job or "://" not in url:
        raise click.BadParameter(
            f"expected JOB=URL such as api=http://127.0.0.1:8000/metrics, got {text!r}",
            param_hint="--target",
        )
    return ScrapeTarget(job=job, url=url, interval_s=interval_s)


def _parse_probe(text: str, interval_s: float) -> ProbeConfig:
    from watchkeeper.monitor.probe import ProbeConfig

    job, sep, url = text.partition("=")
    scheme = url.partition("://")[0]
    if not sep or not job or scheme not in ("http", "https", "tcp"):
        raise click.BadParameter(
            "expected JOB=URL such as api=https://example.com/health or db=tcp://127.0.0.1:5432,"
            f" got {text!r}",
            param_hint="--probe",
        )
    tcp = scheme == "tcp"
    try:
        return ProbeConfig(
            job=job,
            target=url.removeprefix("tcp://") if tcp else url,
            module="tcp" if tcp else "http",
            interval_s=interval_s,
            timeout_s=min(interval_s, 10.0),
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--probe") from None


def _remote_write_configs(
    urls: tuple[str, ...], token_file: Path | None
) -> list[RemoteWriteConfig]:
    from watchkeeper.monitor.remote_write import RemoteWriteConfig

    token = None
    if token_file is not None:
        token = token_file.read_text(encoding="utf-8").strip()
        if not token:
            raise click.BadParameter(
                f"{token_file} is empty; write the token into it",
                param_hint="--remote-write-bearer-token-file",
            )
    try:
        return [RemoteWriteConfig(url, bearer_token=token) for url in urls]
    except ValueError as exc:  # names the URL (without credentials) and the fix
        raise click.BadParameter(str(exc), param_hint="--remote-write") from None


@click.command()
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default="watchkeeper-data",
    show_default=True,
    help=_DATA_DIR_HELP,
)
@click.option(
    "--listen",
    default=_DEFAULT_LISTEN,
    show_default=True,
    help="HOST:PORT to serve the API on; not loopback requires a token.",
)
@click.option(
    "-f",
    "--file",
    "spec_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Service spec: scrape its service and exporter jobs as the generated prometheus.yml "
    "does, probe its http dependencies, evaluate its rules.",
)
@click.option(
    "--target",
    "target_flags",
    multiple=True,
    metavar="JOB=URL",
    help="Scrape URL as job JOB (repeatable); for one of the -f spec's exporter jobs "
    "(SERVICE-DEPENDENCY), in place of its exporter: address.",
)
@click.option(
    "--scrape-interval",
    default="15s",
    show_default=True,
    help="Interval for --target targets and --probe probes.",
)
@click.option(
    "--probe",
    "probe_flags",
    multiple=True,
    metavar="JOB=URL",
    help="Probe an http(s):// URL (any 2xx succeeds) or tcp://HOST:PORT (repeatable).",
)
@click.option(
    "--probe-condition",
    "condition_flags",
    multiple=True,
    metavar="JOB=CONDITION",
    help="A condition for every probe of job JOB, e.g. 'api=[RESPONSE_TIME] < 300ms' "
    "(repeatable; replaces the default any-2xx; see docs/probes.md).",
)
@click.option(
    "--health-probes/--no-health-probes",
    default=True,
    show_default=True,
    help="Probe the /ready (the spec's kubernetes.readiness_path) of every service target "
    "(the spec's and --target's, not exporters) as job JOB-health.",
)
@click.option("--retention", default="15d", show_default=True, help="Drop data older than this.")
@click.option(
    "--retention-size", default=None, help="Drop the oldest data beyond this size (e.g. 10GB)."
)
@click.option(
    "--query-timeout", default="2m", show_default=True, help="Abort queries running longer."
)
@click.option(
    "--query-max-samples",
    default=50_000_000,
    show_default=True,
    help="Abort queries loading more samples into memory at once.",
)
@click.option(
    "--token",
    envvar="WATCHKEEPER_TOKEN",
    default=None,
    help="Bearer token clients must send (env WATCHKEEPER_TOKEN).",
)
@click.option(
    "--alertmanager-url",
    "alertmanager_urls",
    multiple=True,
    metavar="URL",
    help="Also send every alert to this external Alertmanager (repeatable).",
)
@click.option(
    "--remote-write",
    "remote_write_urls",
    multiple=True,
    metavar="URL",
    help="Send every scraped and recorded sample to this Prometheus remote write receiver "
    "(repeatable; http://user:password@host/... for basic auth; see docs/remote_write.md).",
)
@click.option(
    "--remote-write-bearer-token-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="File whose content is sent as 'Authorization: Bearer' to every --remote-write URL.",
)
@click.option(
    "--rules",
    "rule_files",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Prometheus rule file to evaluate, hot-reloaded when it changes (repeatable).",
)
@click.option(
    "--spec-rules/--no-spec-rules",
    default=True,
    show_default=True,
    help="Evaluate the rules `watchkeeper generate` writes for the -f spec.",
)
@click.option(
    "--evaluation-interval",
    default="1m",
    show_default=True,
    help="Default rule evaluation interval (a group's interval: overrides it).",
)
@click.option(
    "--alert-resend-delay",
    default="1m",
    show_default=True,
    help="Minimum time before re-sending a firing alert to the notifier.",
)
@click.option(
    "--alert-for-outage-tolerance",
    default="1h",
    show_default=True,
    help="Longest downtime after which alerts' 'for' state is still restored.",
)
@click.option(
    "--alert-for-grace-period",
    default="10m",
    show_default=True,
    help="Minimum wait after a restart before a restored alert with a 'for' fires.",
)
def up(
    data_dir: Path,
    listen: str,
    spec_file: Path | None,
    target_flags: tuple[str, ...],
    scrape_interval: str,
    probe_flags: tuple[str, ...],
    condition_flags: tuple[str, ...],
    health_probes: bool,
    retention: str,
    retention_size: str | None,
    query_timeout: str,
    query_max_samples: int,
    token: str | None,
    alertmanager_urls: tuple[str, ...],
    remote_write_urls: tuple[str, ...],
    remote_write_bearer_token_file: Path | None,
    rule_files: tuple[Path, ...],
    spec_rules: bool,
    evaluation_interval: str,
    alert_resend_delay: str,
    alert_for_outage_tolerance: str,
    alert_for_grace_period: str,
) -> None:
    """Scrape, store and serve a Prometheus-compatible API until interrupted.

    Without -f or --target it serves the data already in --data-dir and scrapes nothing.
    """
    _require_monitor()
    from dataclasses import replace

    from watchkeeper.monitor.server import (
        MonitorConfig,
        load_probes,
        parse_listen,
        resolve_token,
        scrape_targets,
    )

    try:
        host, port = parse_listen(listen)
    except ConfigurationError as exc:
        raise click.BadParameter(str(exc), param_hint="--listen") from None
    interval_s = _duration_s(scrape_interval, "--scrape-interval")
    targets = [_parse_target(t, interval_s) for t in target_flags]
    probes = [_parse_probe(p, interval_s) for p in probe_flags]
    if spec_file is not None:
        try:
            # The jobs generate writes; a --target of an exporter job replaces its address.
            targets = scrape_targets(spec_file, targets)
            probes.extend(load_probes(spec_file))
        except SpecError as exc:
            raise click.ClickException(str(exc)) from None
    if not health_probes:
        targets = [replace(t, health_path=None) for t in targets]
    conditions: dict[str, list[str]] = {}
    for flag in condition_flags:
        job, sep, condition = flag.partition("=")
        if not sep or not _JOB_RE.match(job) or not condition.strip():
            raise click.BadParameter(
                f"expected JOB=CONDITION such as 'api=[STATUS] == 200', got {flag!r}",
                param_hint="--probe-condition",
            )
        conditions.setdefault(job, []).append(condition.strip())
    token, generated = resolve_token(host, token)
    remote_write = _remote_write_configs(remote_write_urls, remote_write_bearer_token_file)
    config = MonitorConfig(
        data_dir=data_dir,
        host=host,
        port=port,
        token=token,
        retention_seconds=_duration_s(retention, "--retention"),
        retention_bytes=_size_bytes(retention_size, "--retention-size") if retention_size else None,
        targets=targets,
        probes=probes,
        probe_conditions=conditions,
        spec_path=spec_file,
        alertmanager_urls=alertmanager_urls,
        remote_write=remote_write,
        query_timeout_s=_duration_s(query_timeout, "--query-timeout"),
        query_max_samples=query_max_samples,
        rule_files=list(rule_files),
        spec_rules=spec_rules,
        evaluation_interval_s=_duration_s(evaluation_interval, "--evaluation-interval"),
        alert_resend_delay_s=_duration_s(alert_resend_delay, "--alert-resend-delay"),
        alert_for_outage_tolerance_s=_duration_s(
            alert_for_outage_tolerance, "--alert-for-outage-tolerance"
        ),
        alert_for_grace_period_s=_duration_s(alert_for_grace_period, "--alert-for-grace-period"),
    )

    def announce(url: str) -> None:
        scraping = f"scraping {len(targets)} target(s)" if targets else "scraping nothing"
        if probes:
            scraping += f", probing {len(probes)} endpoint(s) besides health"
        click.echo(f"watchkeeper: serving {data_dir} on {url} ({scraping})", err=True)
        if generated:
            # Printed once: it is not stored anywhere.
            click.echo(
                f"watchkeeper: API token (send 'Authorization: Bearer <token>'): {token}", err=True
            )
            # Like Jupyter: one click logs the browser in (the console keeps it in a cookie).
            click.echo(f"watchkeeper: console: {url}/?token={token}", err=True)
        else:
            click.echo(f"watchkeeper: console: {url}/", err=True)

    try:
        serve(config, on_listening=announce)
    except (ConfigurationError, StorageError, SpecError) as exc:
        raise click.ClickException(str(exc)) from None


def serve(config: MonitorConfig, *, on_listening: Callable[[str], None]) -> None:
    from watchkeeper.monitor.server import serve as serve_monitor

    serve_monitor(config, on_listening=on_listening, console=True)


@contextmanager
def _opened(data_dir: Path) -> Iterator[Store]:
    _require_monitor()
    from watchkeeper.monitor.server import MonitorConfig, open_store

    if not data_dir.is_dir():
        raise click.ClickException(
            f"{data_dir}: no such data directory; import data with 'watchkeeper tsdb import' "
            "or run 'watchkeeper up'"
        )
    try:
        store = open_store(MonitorConfig(data_dir=data_dir))
    except StorageError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        yield store
    finally:
        store.close()


def _time_ms(value: str, option: str) -> int:
    from watchkeeper.monitor.web.params import ParamError, parse_time_ms

    if value == "now":
        return int(time.time() * 1000)
    try:
        return parse_time_ms(value, option)
    except ParamError:
        raise click.BadParameter(
            f"{value!r} is not a time: use unix seconds, RFC3339 or 'now'", param_hint=option
        ) from None


def _iso(ts_ms: int) -> str:
    moment = datetime.fromtimestamp(ts_ms / 1000, UTC).isoformat(timespec="milliseconds")
    return moment.replace("+00:00", "Z")


def _labels_text(labels: tuple[tuple[str, str], ...]) -> str:
    name = dict(labels).get("__name__", "")
    rest = ", ".join(f'{k}="{v}"' for k, v in labels if k != "__name__")
    return f"{name}{{{rest}}}" if rest or not name else name


def _print(value: Value) -> None:
    from rich.console import Console
    from rich.table import Table

    from watchkeeper.monitor.promql.value import Scalar, String, Vector
    from watchkeeper.monitor.web.json import format_float

    table = Table(box=None, header_style="bold")
    if isinstance(value, Scalar | String):
        table.add_column("time")
        table.add_column("value", justify="right")
        shown = value.value if isinstance(value, String) else format_float(value.value)
        table.add_row(_iso(value.timestamp_ms), shown)
    elif isinstance(value, Vector):
        table.add_column("series")
        table.add_column("time")
        table.add_column("value", justify="right")
        for s in value.samples:
            table.add_row(_labels_text(s.labels), _iso(s.timestamp_ms), format_float(s.value))
    else:
        table.add_column("series")
        table.add_column("time")
        table.add_column("value", justify="right")
        for series in value.series:
            for i, (t, v) in enumerate(series.points):
                table.add_row(
                    _labels_text(series.labels) if i == 0 else "", _iso(t), format_float(v)
                )
    # Piped output (files, grep, tests) is never wrapped at 80 columns.
    console = Console(soft_wrap=True)
    if not console.is_terminal:
        console = Console(soft_wrap=True, width=100_000)
    console.print(table)


def _remote(url: str, token: str | None, path: str, params: dict[str, str]) -> Value:
    """Ask a running monitor (or any Prometheus-compatible server) over HTTP."""
    import httpx

    from watchkeeper.monitor.web.json import parse_value

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.get(
            f"{url.rstrip('/')}{path}", params=params, headers=headers, timeout=130
        )
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise click.ClickException(
            f"{url}: no answer from a Prometheus-compatible API: {exc}"
        ) from None
    if body.get("status") != "success":
        kind = body.get("errorType", f"HTTP {response.status_code}")
        raise click.ClickException(f"{kind}: {body.get('error', response.text[:200])}")
    return parse_value(body["data"])


def _local(data_dir: Path, expr: str, times: tuple[int, int, int] | int) -> Value:
    with _opened(data_dir) as store:
        from watchkeeper.monitor.server import build_engine

        engine = build_engine(store)
        try:
            if isinstance(times, tuple):
                return engine.range_query(expr, *times)
            return engine.instant_query(expr, times)
        except QueryError as exc:
            raise click.ClickException(f"{exc.kind}: {exc}") from None


@click.command()
@click.option("--data-dir", type=click.Path(path_type=Path), help=_DATA_DIR_HELP)
@click.option(
    "--url",
    default=None,
    help="Query a running 'watchkeeper up' (or Prometheus) at this base URL instead.",
)
@click.option("--token", envvar="WATCHKEEPER_TOKEN", default=None, help="Token for --url.")
@click.argument("expr")
@click.option(
    "--time", "at", default=None, help="Evaluation time for an instant query (default now)."
)
@click.option("--start", default=None, help="Start of a range query (unix seconds or RFC3339).")
@click.option("--end", default=None, help="End of a range query.")
@click.option("--step", default=None, help="Resolution of a range query (e.g. 15s).")
def query(
    data_dir: Path | None,
    url: str | None,
    token: str | None,
    expr: str,
    at: str | None,
    start: str | None,
    end: str | None,
    step: str | None,
) -> None:
    """Evaluate a PromQL EXPR and print the result as a table.

    Reads --data-dir directly, or asks a running server with --url (the data
    directory of a running 'watchkeeper up' is locked by it).
    """
    if (data_dir is None) == (url is None):
        raise click.UsageError("give either --data-dir DIR or --url URL")
    ranged = start is not None or end is not None or step is not None
    if ranged and at is not None:
        raise click.UsageError("give either --time, or --start/--end/--step, not both")
    if ranged and (start is None or end is None):
        raise click.UsageError(
            "a range query needs both --start and --end (and --step, default 15s)"
        )
    _require_monitor()
    times: tuple[int, int, int] | int
    if ranged:
        assert start is not None
        assert end is not None
        step_ms = round(_duration_s(step or "15s", "--step") * 1000)
        if step_ms <= 0:
            raise click.BadParameter("must be positive", param_hint="--step")
        times = (_time_ms(start, "--start"), _time_ms(end, "--end"), step_ms)
    else:
        times = _time_ms(at or "now", "--time")
    if url is not None:
        if isinstance(times, tuple):
            params = {"query": expr, "start": str(times[0] / 1000), "end": str(times[1] / 1000)}
            params["step"] = str(times[2] / 1000)
            value = _remote(url, token, "/api/v1/query_range", params)
        else:
            value = _remote(url, token, "/api/v1/query", {"query": expr, "time": str(times / 1000)})
    else:
        assert data_dir is not None
        value = _local(data_dir, expr, times)
    _print(value)


@click.group()
def tsdb() -> None:
    """Work with the embedded time-series store."""


@tsdb.command(name="import")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help=_DATA_DIR_HELP,
)
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
def import_(data_dir: Path, file: Path) -> None:
    """Load FILE (OpenMetrics text with timestamps, as promtool takes) into the store."""
    from watchkeeper.monitor.storage import import_openmetrics

    data_dir.mkdir(parents=True, exist_ok=True)
    with _opened(data_dir) as store:
        try:
            report = import_openmetrics(file, store)
        except (StorageError, ValueError) as exc:
            raise click.ClickException(f"{file}: {exc}") from None
        store.commit()
    span = ""
    if report.min_time_ms is not None and report.max_time_ms is not None:
        span = f", {_iso(report.min_time_ms)} .. {_iso(report.max_time_ms)}"
    details = f"{report.samples} samples, {report.series} series, {report.rejected} rejected{span}"
    click.echo(f"imported {file} into {data_dir}: {details}")
