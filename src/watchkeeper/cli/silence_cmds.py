"""``watchkeeper silence add|list|expire``: manage a running monitor's silences over its
API (Alertmanager's API v2 shapes, so ``--url`` may also point at a real Alertmanager).
"""

from __future__ import annotations

import getpass
import os
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import click

__all__ = ["silence"]

_DEFAULT_URL = "http://127.0.0.1:9099"
_MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$", re.DOTALL)
_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w)")
_UNIT_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def _matcher(text: str) -> dict[str, Any]:
    match = _MATCHER.match(text)
    if match is None:
        raise click.BadParameter(
            f"{text!r} is not a matcher such as alertname=HighErrorRate, "
            'service!=shop or instance=~"db-.*"',
            param_hint="MATCHERS",
        )
    name, op, value = match.groups()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return {"name": name, "value": value, "isRegex": "~" in op, "isEqual": not op.startswith("!")}


def _duration(text: str) -> timedelta:
    pos, total = 0, 0.0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        total += int(m.group(1)) * _UNIT_S[m.group(2)]
        pos = m.end()
    if pos != len(text) or total <= 0:
        raise click.BadParameter(
            f"{text!r} is not a duration such as 2h or 30m", param_hint="--duration"
        )
    return timedelta(seconds=total)


def _time(text: str, option: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not an RFC 3339 time such as 2026-01-02T15:04:05Z", param_hint=option
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _request(ctx: click.Context, method: str, path: str, body: Any = None) -> Any:
    import httpx

    url, token = ctx.obj["url"], ctx.obj["token"]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.request(
            method, f"{url.rstrip('/')}{path}", json=body, headers=headers, timeout=30
        )
    except httpx.HTTPError as exc:
        raise click.ClickException(f"{url}: no answer from the monitor's API: {exc}") from None
    if response.status_code == 401:
        raise click.ClickException(
            f"{url}: unauthorized; pass --token or set WATCHKEEPER_TOKEN to the monitor's token"
        )
    try:
        data = response.json() if response.content else None
    except ValueError:
        data = response.text[:200]
    if response.status_code >= 300:
        detail = data if isinstance(data, str) else response.text[:200]
        raise click.ClickException(f"HTTP {response.status_code}: {detail}")
    return data


@click.group()
@click.option(
    "--url",
    default=_DEFAULT_URL,
    show_default=True,
    envvar="WATCHKEEPER_URL",
    help="Base URL of a running 'watchkeeper up' (env WATCHKEEPER_URL).",
)
@click.option("--token", envvar="WATCHKEEPER_TOKEN", default=None, help="The monitor's API token.")
@click.pass_context
def silence(ctx: click.Context, url: str, token: str | None) -> None:
    """Add, list and expire silences of a running monitor."""
    ctx.obj = {"url": url, "token": token}


@silence.command()
@click.argument("matchers", nargs=-1, required=True)
@click.option("-c", "--comment", required=True, help="Why (shown to everyone who lists silences).")
@click.option("-a", "--author", default=None, help="Who silences (default: your user name).")
@click.option("-d", "--duration", default="1h", show_default=True, help="How long from start.")
@click.option("--start", default=None, help="Start (RFC 3339; default now).")
@click.option("--end", default=None, help="End (RFC 3339); overrides --duration.")
@click.pass_context
def add(
    ctx: click.Context,
    matchers: tuple[str, ...],
    comment: str,
    author: str | None,
    duration: str,
    start: str | None,
    end: str | None,
) -> None:
    """Silence alerts matching every MATCHER (name=value, name!=value, name=~re, name!~re).

    Prints the new silence's id.
    """
    starts = _time(start, "--start") if start else datetime.now(UTC)
    ends = _time(end, "--end") if end else starts + _duration(duration)
    body = {
        "matchers": [_matcher(m) for m in matchers],
        "startsAt": _iso(starts),
        "endsAt": _iso(ends),
        "createdBy": author or os.environ.get("USER") or getpass.getuser(),
        "comment": comment,
    }
    data = _request(ctx, "POST", "/api/v2/silences", body)
    click.echo(data["silenceID"])


def _matchers_text(items: list[dict[str, Any]]) -> str:
    out = []
    for m in items:
        op = (
            ("=" if m.get("isEqual", True) else "!=")
            if not m.get("isRegex")
            else ("=~" if m.get("isEqual", True) else "!~")
        )
        out.append(f'{m["name"]}{op}"{m["value"]}"')
    return " ".join(out)


@silence.command(name="list")
@click.option("--expired", is_flag=True, help="Also list expired silences.")
@click.option("-q", "--quiet", is_flag=True, help="Print ids only.")
@click.pass_context
def list_(ctx: click.Context, expired: bool, quiet: bool) -> None:
    """List silences (active and pending; --expired for all)."""
    from rich.console import Console
    from rich.table import Table

    data = _request(ctx, "GET", "/api/v2/silences")
    shown = [s for s in data if expired or s["status"]["state"] != "expired"]
    if quiet:
        for s in shown:
            click.echo(s["id"])
        return
    table = Table(box=None, header_style="bold")
    for column in ("ID", "STATE", "MATCHERS", "STARTS", "ENDS", "AUTHOR", "COMMENT"):
        table.add_column(column)
    for s in shown:
        table.add_row(
            s["id"],
            s["status"]["state"],
            _matchers_text(s["matchers"]),
            s["startsAt"],
            s["endsAt"],
            s["createdBy"],
            s["comment"],
        )
    console = Console(soft_wrap=True)
    if not console.is_terminal:
        console = Console(soft_wrap=True, width=100_000)
    console.print(table)


@silence.command()
@click.argument("ids", nargs=-1, required=True)
@click.pass_context
def expire(ctx: click.Context, ids: tuple[str, ...]) -> None:
    """Expire the silences with these IDS (they stop muting at once)."""
    for silence_id in ids:
        _request(ctx, "DELETE", f"/api/v2/silence/{silence_id}")
        click.echo(f"expired {silence_id}")
