"""Grafana dashboards (built with grafana-foundation-sdk) and provisioning files.

Every query names the ``${datasource}`` variable (no ``${DS_...}`` import inputs), and
uids come from the service name, so dashboard links in alerts stay valid.
"""

from __future__ import annotations

import json

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef

from watchkeeper.generate.artifact import Artifact, header, yaml_document
from watchkeeper.generate.links import dashboard_uid
from watchkeeper.generate.promql import selector
from watchkeeper.spec.model import ServiceSpec

__all__ = ["grafana_artifacts"]

_DS = DataSourceRef(type_val="prometheus", uid="${datasource}")


def _query(expr: str, legend: str) -> prometheus.Dataquery:
    return prometheus.Dataquery().expr(expr).legend_format(legend).datasource(_DS)


def _ts(title: str, unit: str, *queries: tuple[str, str]) -> timeseries.Panel:
    panel = timeseries.Panel().title(title).unit(unit).datasource(_DS).height(8).span(12)
    for expr, legend in queries:
        panel = panel.with_target(_query(expr, legend))
    return panel


def _stat(title: str, unit: str, expr: str) -> stat.Panel:
    return (
        stat.Panel()
        .title(title)
        .unit(unit)
        .datasource(_DS)
        .height(4)
        .span(6)
        .with_target(_query(expr, title))
    )


def _board(spec: ServiceSpec, source: str, board: str, title: str) -> db.Dashboard:
    variable = db.DatasourceVariable("datasource").label("Data source").type("prometheus")
    return (
        db.Dashboard(title)
        .uid(dashboard_uid(spec, board))
        .description(header(source))
        .tags(["watchkeeper", spec.service])
        .time("now-6h", "now")
        .refresh("1m")
        .with_variable(variable)
    )


def _overview(spec: ServiceSpec, source: str) -> db.Dashboard:
    ids = {"service": spec.service}
    job = {"job": spec.service}
    rps = selector("service:http_server_requests:rate5m", **ids)
    err = selector("service:http_server_request_errors:ratio_rate5m", **ids)
    return (
        _board(spec, source, "overview", f"{spec.service} / overview")
        .with_panel(_stat("Requests/s", "reqps", rps))
        .with_panel(_stat("Error ratio", "percentunit", err))
        .with_panel(
            _stat(
                "p99 latency",
                "s",
                selector("service:http_server_request_duration_seconds:p99_rate5m", **ids),
            )
        )
        .with_panel(_stat("Targets up", "none", f"sum({selector('up', **job)})"))
        .with_row(db.Row("Golden signals"))
        .with_panel(
            _ts(
                "Traffic (requests/s)",
                "reqps",
                (rps, "all"),
                (
                    "sum by (http_route) "
                    f"(rate({selector('http_server_request_duration_seconds_count', **job)}[5m]))",
                    "{{http_route}}",
                ),
            )
        )
        .with_panel(_ts("Errors (5xx ratio)", "percentunit", (err, "5xx ratio")))
        .with_panel(
            _ts(
                "Latency",
                "s",
                *[
                    (
                        selector(
                            f"service:http_server_request_duration_seconds:p{q}_rate5m", **ids
                        ),
                        f"p{q}",
                    )
                    for q in ("50", "95", "99")
                ],
            )
        )
        .with_panel(
            _ts(
                "Saturation",
                "percentunit",
                (f"rate({selector('process_cpu_seconds_total', **job)}[5m])", "CPU {{instance}}"),
                (selector("system_memory_utilization_ratio", **job), "memory {{instance}}"),
                (
                    f"{selector('process_open_fds', **job)} / {selector('process_max_fds', **job)}",
                    "fds {{instance}}",
                ),
            )
        )
        .with_panel(
            _ts(
                "In-flight requests",
                "none",
                (f"sum({selector('http_server_active_requests', **job)})", "active"),
            )
        )
        .with_panel(
            _ts(
                "Event loop lag",
                "s",
                (selector("asyncio_event_loop_lag_seconds", **job), "{{instance}}"),
            )
        )
    )


def _slo_board(spec: ServiceSpec, source: str) -> db.Dashboard:
    board = _board(spec, source, "slo", f"{spec.service} / SLOs")
    for slo in spec.slos:
        ids = {"service": spec.service, "slo": slo.name}
        board = board.with_row(db.Row(f"SLO {slo.name}: {slo.objective}% over {slo.window}"))
        board = board.with_panel(
            _stat(
                "Error budget remaining",
                "percentunit",
                selector("slo:error_budget_remaining:ratio", **ids),
            )
        )
        board = board.with_panel(
            _stat(
                f"Error ratio ({slo.window})",
                "percentunit",
                selector(f"slo:sli_error:ratio_increase{slo.window}", **ids),
            )
        )
        windows = sorted({w.long for w in slo.burn_windows} | {w.short for w in slo.burn_windows})
        budget = format(slo.budget.numerator / slo.budget.denominator, ".10g")
        board = board.with_panel(
            _ts(
                "Burn rate per window (1 = on budget)",
                "none",
                *[
                    (f"{selector(f'slo:sli_error:ratio_rate{w}', **ids)} / {budget}", str(w))
                    for w in windows
                ],
            )
        )
    return board


def _dependencies(spec: ServiceSpec, source: str) -> db.Dashboard:
    job = {"job": spec.service}
    return (
        _board(spec, source, "dependencies", f"{spec.service} / dependencies")
        .with_panel(
            _ts(
                "Exporters up (pg_up, redis_up, probe_success)",
                "none",
                ("pg_up", "postgres {{dependency}}"),
                ("redis_up", "redis {{dependency}}"),
                ("probe_success", "probe {{dependency}}"),
            )
        )
        .with_panel(
            _ts(
                "DB operation p99",
                "s",
                (
                    "histogram_quantile(0.99, sum by (le, db_operation_name) (rate("
                    f"{selector('db_client_operation_duration_seconds_bucket', **job)}[5m])))",
                    "{{db_operation_name}}",
                ),
            )
        )
        .with_panel(
            _ts(
                "DB connections",
                "none",
                (f"sum by (state) ({selector('db_client_connections_usage', **job)})", "{{state}}"),
            )
        )
        .with_panel(
            _ts(
                "Cache hit ratio",
                "percentunit",
                (
                    f"sum by (cache) (rate({selector('cache_requests_total', **job, result='hit')}"
                    "[5m])) / sum by (cache) "
                    f"(rate({selector('cache_requests_total', **job)}[5m]))",
                    "{{cache}}",
                ),
            )
        )
        .with_panel(_ts("Queue depth", "none", (selector("queue_depth", **job), "{{queue}}")))
        .with_panel(
            _ts(
                "Oldest queued item",
                "s",
                (selector("queue_oldest_age_seconds", **job), "{{queue}}"),
            )
        )
    )


def _llm(spec: ServiceSpec, source: str) -> db.Dashboard:
    job = {"job": spec.service}
    return (
        _board(spec, source, "llm", f"{spec.service} / LLM and quotas")
        .with_panel(
            _ts(
                "Cost (USD/hour)",
                "currencyUSD",
                (
                    f"sum by (model) (increase({selector('llm_cost_usd_total', **job)}[1h]))",
                    "{{model}}",
                ),
            )
        )
        .with_panel(
            _ts(
                "Tokens/s",
                "none",
                (
                    f"sum by (model, kind) (rate({selector('llm_tokens_total', **job)}[5m]))",
                    "{{model}} {{kind}}",
                ),
            )
        )
        .with_panel(
            _ts(
                "LLM latency p95",
                "s",
                (
                    "histogram_quantile(0.95, sum by (le, model) "
                    f"(rate({selector('llm_request_duration_seconds_bucket', **job)}[5m])))",
                    "{{model}}",
                ),
            )
        )
        .with_panel(
            _ts("Quota remaining", "none", (selector("quota_remaining", **job), "{{quota}}"))
        )
    )


def _json(board: db.Dashboard) -> str:
    data = json.loads(json.dumps(board.build(), cls=JSONEncoder))
    # Grafana wants unique panel ids and one refId per query; number them in order
    # so the JSON is the same on every run.
    for number, panel in enumerate(data.get("panels", []), start=1):
        panel["id"] = number
        if panel.get("options") is None:
            panel.pop("options", None)
        for index, target in enumerate(panel.get("targets", [])):
            target["refId"] = chr(ord("A") + index)
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def grafana_artifacts(spec: ServiceSpec, source: str) -> list[Artifact]:
    boards = {"overview": _overview(spec, source)}
    if spec.slos:
        boards["slo"] = _slo_board(spec, source)
    if spec.dependencies or spec.alerts.CacheHitRateLow is not None:
        boards["dependencies"] = _dependencies(spec, source)
    if spec.llm is not None or spec.quota:
        boards["llm"] = _llm(spec, source)
    out = [
        Artifact(f"grafana/dashboards/{spec.service}-{name}.json", _json(b))
        for name, b in boards.items()
    ]
    out.append(
        Artifact(
            "grafana/provisioning/dashboards/watchkeeper.yaml",
            yaml_document(
                source,
                {
                    "apiVersion": 1,
                    "providers": [
                        {
                            "name": "watchkeeper",
                            "folder": spec.grafana.folder,
                            "type": "file",
                            "disableDeletion": False,
                            "allowUiUpdates": False,
                            "options": {"path": "/var/lib/grafana/dashboards"},
                        }
                    ],
                },
            ),
        )
    )
    out.append(
        Artifact(
            "grafana/provisioning/datasources/prometheus.yaml",
            yaml_document(
                source,
                {
                    "apiVersion": 1,
                    "datasources": [
                        {
                            "name": "Prometheus",
                            "type": "prometheus",
                            "uid": "prometheus",
                            "access": "proxy",
                            "url": "http://prometheus:9090",
                            "isDefault": True,
                        }
                    ],
                },
            ),
        )
    )
    return out
