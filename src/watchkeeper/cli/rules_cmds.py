"""``watchkeeper rules check | show``: rule files on the command line.

``check`` validates files like ``promtool check rules`` (located problems, exit 1);
``show`` prints a running monitor's rule groups, rule health, active alerts and the rule
files that failed to load (whose last good rules keep running), exit 1 when any did.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

__all__ = ["rules"]


@click.group()
def rules() -> None:
    """Check rule files; show a running monitor's rules, alerts and load errors."""


@rules.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def check(files: tuple[Path, ...]) -> None:
    """Validate Prometheus rule files (syntax, PromQL, templates)."""
    try:
        from watchkeeper.monitor.rules import RuleFileError, load_rule_file
    except ImportError:
        raise click.ClickException(
            "checking rules needs the monitor extra: pip install 'watchkeeper[monitor]'"
        ) from None
    failed = False
    for path in files:
        try:
            groups = load_rule_file(path)
        except RuleFileError as exc:
            failed = True
            click.echo(f"FAILED  {path}")
            for problem in exc.problems:
                click.echo(f"  {problem}")
            continue
        count = sum(len(g.rules) for g in groups)
        click.echo(f"ok      {path}: {len(groups)} group(s), {count} rule(s)")
    if failed:
        raise SystemExit(1)


def _get(url: str, token: str | None, path: str) -> dict[str, Any]:
    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.get(f"{url.rstrip('/')}{path}", headers=headers, timeout=30)
    except httpx.HTTPError as exc:
        raise click.ClickException(f"{url}: {exc}; is `watchkeeper up` running there?") from None
    if response.status_code != 200:
        raise click.ClickException(f"{url}{path}: HTTP {response.status_code}")
    body: dict[str, Any] = response.json()
    return body


@rules.command("show")
@click.option("--url", default="http://127.0.0.1:9099", show_default=True, help="The monitor.")
@click.option("--token", envvar="WATCHKEEPER_TOKEN", default=None, help="Token for --url.")
def show(url: str, token: str | None) -> None:
    """Rule groups, rule health and active alerts of a running monitor."""
    body = _get(url, token, "/api/v1/rules")
    warnings = body.get("warnings") or []
    for warning in warnings:
        click.echo(f"LOAD ERROR  {warning}")
    if warnings:
        click.echo("(the last good rules of those files keep running)\n")
    for group in body["data"]["groups"]:
        click.echo(
            f"{group['name']}  ({group['file']}, every {group['interval']:g}s, "
            f"last {group['lastEvaluation']})"
        )
        for rule in group["rules"]:
            state = f" {rule['state']}" if rule["type"] == "alerting" else ""
            error = f"  error: {rule['lastError']}" if rule.get("lastError") else ""
            click.echo(f"  {rule['health']:<4} {rule['type']:<9} {rule['name']}{state}{error}")
            for alert in rule.get("alerts", []):
                labels = ", ".join(f"{k}={v}" for k, v in sorted(alert["labels"].items()))
                click.echo(f"         {alert['state']:<8} since {alert['activeAt']}  {{{labels}}}")
    if warnings:
        raise SystemExit(1)
