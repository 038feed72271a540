"""``watchkeeper init | check | generate | test``: the service spec on the command line.

Thin by design: parse options, call :mod:`watchkeeper.spec` / :mod:`watchkeeper.generate`,
write files, run promtool/amtool, set the exit code (0 ok, 1 a problem found).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import click

from watchkeeper.errors import SpecError

__all__ = [
    "check",
    "generate",
    "init",
    "run_engine_checks",
    "run_tool_checks",
    "starter_spec",
    "test",
]

_SPEC_OPTION = click.option(
    "-f",
    "--file",
    "spec_file",
    default="watchkeeper.yaml",
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The service spec.",
)


def starter_spec(service: str, team: str | None, target: str) -> str:
    """A commented spec that validates as is and shows every section."""
    team_line = (
        f"team: {team}" if team else "# team: payments           # adds a team label to every alert"
    )
    return f"""\
# watchkeeper service spec: `watchkeeper check` validates it,
# `watchkeeper generate --out monitoring/` writes rules, tests, routing and dashboards.
# Reference: docs/spec.md
version: 1
service: {service}              # also the Prometheus scrape job name
{team_line}
targets:                        # where Prometheus scrapes /metrics
  - {target}
labels: {{}}                     # static labels on every alert, e.g. {{env: prod}}

slos:
  - name: availability
    objective: 99.9             # percent of requests answered without a 5xx
    sli: {{kind: availability}}
    # window: 30d               # any period; burn-rate factors are derived from it
  - name: latency
    objective: 99
    sli: {{kind: latency, threshold: 0.5}}   # seconds; must be a histogram bucket bound

alerts:                         # built-in alerts are on; tune or switch them off
  HighErrorRate: {{threshold: 1%, for: 5m}}
  # HighCPU: {{enabled: false}}
  # custom:
  #   - name: CheckoutFailures
  #     expr: sum(rate(outcomes_total{{operation="checkout",result="error"}}[5m])) > 1
  #     for: 5m
  #     severity: warning
  #     summary: Checkouts are failing

dependencies: []                # e.g. - {{kind: postgres, name: db}}

notify:
  receivers:
    - name: team
      # slack: {{webhook_url: "${{SLACK_WEBHOOK_URL}}", channel: "#alerts"}}
  # routes:
  #   - {{match: {{severity: critical}}, receiver: oncall}}

runbooks: {{directory: runbooks}}
"""


@click.command()
@click.option("--service", help="Service name (lowercase, dashes).")
@click.option("--team", help="Owning team, added as a label to every alert.")
@click.option("--target", default="localhost:8000", show_default=True, help="host:port to scrape.")
@_SPEC_OPTION
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(service: str | None, team: str | None, target: str, spec_file: Path, force: bool) -> None:
    """Write a commented starter spec (asks only for what the flags do not give)."""
    from watchkeeper.spec import load_spec_text

    if spec_file.exists() and not force:
        raise click.ClickException(f"{spec_file} exists; pass --force to overwrite it")
    if service is None:
        if not sys.stdin.isatty():
            raise click.ClickException("pass --service NAME (no terminal to ask on)")
        service = click.prompt("Service name", default=Path.cwd().name.lower())
    text = starter_spec(service, team, target)
    try:
        load_spec_text(text, str(spec_file))
    except SpecError as exc:
        raise click.ClickException(str(exc)) from None
    spec_file.write_text(text, encoding="utf-8")
    click.echo(f"wrote {spec_file}; next: watchkeeper check -f {spec_file}")


def _load(spec_file: Path) -> object:
    from watchkeeper.spec import load_spec

    try:
        return load_spec(spec_file)
    except SpecError as exc:
        click.echo(str(exc), err=True)
        raise SystemExit(1) from None


@click.command()
@_SPEC_OPTION
def check(spec_file: Path) -> None:
    """Validate the spec; print located errors and exit 1 if any."""
    from watchkeeper.spec import ServiceSpec, alert_inventory, spec_warnings

    spec = _load(spec_file)
    assert isinstance(spec, ServiceSpec)
    for warning in spec_warnings(spec):
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"{spec_file}: ok ({len(spec.slos)} SLOs, {len(alert_inventory(spec))} alert rules)")


def _write(spec_file: Path, out: Path, expand_secrets: bool) -> int:
    from watchkeeper.generate import generate_all
    from watchkeeper.spec import ServiceSpec, spec_warnings

    spec = _load(spec_file)
    assert isinstance(spec, ServiceSpec)
    for warning in spec_warnings(spec):
        click.echo(f"warning: {warning}", err=True)
    secrets = dict(os.environ) if expand_secrets else None
    try:
        artifacts = generate_all(spec, spec_file.name, secrets)
    except SpecError as exc:
        click.echo(str(exc), err=True)
        raise SystemExit(1) from None
    for artifact in artifacts:
        path = out / artifact.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(artifact.text, encoding="utf-8")
    _remove_stale(out, {artifact.path for artifact in artifacts})
    return len(artifacts)


_MANAGED = ("prometheus", "alertmanager", "grafana", "runbooks", "kubernetes", "compose")


def _remove_stale(out: Path, written: set[str]) -> None:
    """Delete files an earlier run generated that this spec no longer produces (a
    runbook of a disabled alert); files without our header are never touched."""
    for top in _MANAGED:
        for path in sorted((out / top).rglob("*")):
            relative = path.relative_to(out).as_posix()
            if not path.is_file() or relative in written:
                continue
            try:
                head = path.read_text(encoding="utf-8")[:300]
            except (OSError, UnicodeDecodeError):
                continue
            if "generated by watchkeeper" in head:
                path.unlink()
                click.echo(f"removed stale {relative}")


@click.command()
@_SPEC_OPTION
@click.option(
    "--out",
    "out_dir",
    default="monitoring",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Output directory.",
)
@click.option(
    "--expand-secrets",
    is_flag=True,
    help="Write ${VAR} secrets in clear from the environment (default: *_file references).",
)
def generate(spec_file: Path, out_dir: Path, expand_secrets: bool) -> None:
    """Write Prometheus, Alertmanager, Grafana, runbook, Kubernetes and compose files."""
    count = _write(spec_file, out_dir, expand_secrets)
    click.echo(
        f"wrote {count} files under {out_dir}/; check them with: watchkeeper test --dir {out_dir}"
    )


@dataclass(frozen=True)
class ToolCheck:
    name: str
    command: list[str] | None  # None: the tool is not installed
    returncode: int = 0
    output: str = ""

    @property
    def ok(self) -> bool:
        return self.command is not None and self.returncode == 0


def run_tool_checks(out: Path) -> list[ToolCheck]:
    """Run promtool and amtool over a generated directory (those that are installed)."""
    promtool, amtool = shutil.which("promtool"), shutil.which("amtool")
    results: list[ToolCheck] = []

    def run(name: str, tool: str | None, args: list[str], cwd: Path) -> None:
        if tool is None:
            results.append(ToolCheck(name, None))
            return
        done = subprocess.run([tool, *args], cwd=cwd, capture_output=True, text=True, check=False)
        results.append(
            ToolCheck(name, [Path(tool).name, *args], done.returncode, done.stdout + done.stderr)
        )

    prom = out / "prometheus"
    rules = sorted(p.name for p in (prom / "rules").glob("*.yml"))
    tests = sorted(p.name for p in (prom / "tests").glob("*.yml"))
    run("promtool check config", promtool, ["check", "config", "prometheus.yml"], prom)
    run("promtool check rules", promtool, ["check", "rules", *rules], prom / "rules")
    run("promtool test rules", promtool, ["test", "rules", *tests], prom / "tests")
    am = out / "alertmanager"
    run("amtool check-config", amtool, ["check-config", "alertmanager.yml"], am)
    routes = am / "routes.test.txt"
    lines = (
        [ln for ln in routes.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
        if routes.exists()
        else []
    )
    for line in lines:
        run(
            f"amtool config routes test {line}",
            amtool,
            ["config", "routes", "test", "--config.file=alertmanager.yml", *shlex.split(line)],
            am,
        )
    return results


def run_engine_checks(out: Path) -> list[ToolCheck]:
    """The generated promtool unit tests on watchkeeper's own rule engine, the one
    `watchkeeper up` runs: it must reach promtool's verdicts."""
    name = "watchkeeper test rules (embedded engine)"
    tests = sorted((out / "prometheus" / "tests").glob("*.yml"))
    if not tests:
        return []
    try:
        from watchkeeper.monitor.rules import run_unit_test_file
    except ImportError:
        hint = "needs the monitor extra: pip install 'watchkeeper[monitor]'"
        return [ToolCheck(name, ["watchkeeper"], 1, hint)]
    results = [run_unit_test_file(t) for t in tests]
    failed = any(not r.ok for r in results)
    output = "".join(r.report() for r in results)
    return [ToolCheck(name, ["watchkeeper", "test"], 1 if failed else 0, output)]


@click.command()
@click.option(
    "-f",
    "--file",
    "spec_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Generate from this spec into a temporary directory, then check it.",
)
@click.option(
    "--dir",
    "out_dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Check an already generated directory.",
)
def test(spec_file: Path | None, out_dir: Path | None) -> None:
    """Run promtool (config, rules, unit tests) and amtool (config, routes) on the output,
    and the unit tests on watchkeeper's embedded rule engine too."""
    if (spec_file is None) == (out_dir is None):
        raise click.UsageError("pass exactly one of -f SPEC or --dir DIR")
    with tempfile.TemporaryDirectory(prefix="watchkeeper-") as tmp:
        if spec_file is not None:
            out_dir = Path(tmp)
            _write(spec_file, out_dir, expand_secrets=False)
        assert out_dir is not None
        # promtool runs in its own process: the embedded engine runs meanwhile.
        with ThreadPoolExecutor(max_workers=1) as pool:
            engine = pool.submit(run_engine_checks, out_dir)
            results = run_tool_checks(out_dir)
            results.extend(engine.result())
    failed = 0
    missing = sorted({r.name.split()[0] for r in results if r.command is None})
    for tool in missing:
        package = "prometheus" if tool == "promtool" else "prometheus-alertmanager"
        click.echo(
            f"SKIPPED {tool}: not installed (apt-get install {package}); its checks did not run"
        )
    for result in results:
        if result.command is None:
            continue
        if result.ok:
            click.echo(f"ok      {result.name}")
        else:
            failed += 1
            click.echo(f"FAILED  {result.name}\n{result.output.rstrip()}")
    if failed:
        raise SystemExit(1)
    if missing:
        click.echo("note: some checks were skipped; install the tools above to run them")
