"""`make demo`: two example services under the embedded monitor, real traffic, a real fault.

What it does, all on 127.0.0.1 (nothing leaves the machine):

1. starts two examples (``python -m examples.<name> --port P``), each with its fake
   upstream when it has one;
2. writes a demo copy of each example's ``watchkeeper.yaml`` (targets -> the ports
   picked here, 2 s scrapes, alert ``for:``/windows shortened so that alerts show
   within a few minutes, every receiver -> the demo's webhook receiver) and starts
   ``watchkeeper up`` with a random ``--token``: ``-f`` the first spec, the second
   service as ``--target`` plus the rules ``watchkeeper generate`` writes for it
   (``--rules``), a 5 s evaluation interval;
3. prints the console URL with the token, drives mixed traffic at both services,
   turns one example's fault on after min(60 s, DEMO_SECONDS / 2) through its fault
   switch (``PUT /_faults/NAME``), and shows a live table of golden signals per
   service read from the monitor's ``/api/v1/query``, the active alerts
   (``/api/v1/alerts``) and the notifications the webhook receiver got;
4. stops every process it started on Ctrl-C, SIGTERM or after DEMO_SECONDS
   (default 300), and prints the final summary.

Environment: DEMO_SECONDS (default 300), DEMO_EXAMPLES (comma-separated example
names; default verification_api,llm_gateway, or the quickstart apps when those
examples are not in this checkout).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
DURATION = "http_server_request_duration_seconds"
WINDOW = "30s"  # rate window of the live table: 15 scrapes at 2 s
SCRAPE = "2s"
EVALUATION = "5s"
ALERT_FOR = "20s"

Request = tuple[str, str, Any, dict[str, str]]  # method, path, JSON body (or None), headers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# --- the examples ------------------------------------------------------------------


@dataclass
class Example:
    """How the demo runs, drives and breaks one example."""

    name: str
    spec: dict[str, Any]
    command: Callable[[int, int], list[str]]  # (port, upstream port) -> argv
    upstream: Callable[[int], list[str]] | None  # upstream port -> argv, if it has one
    request: Callable[[random.Random], Request]
    fault: str | None = None
    fault_value: float | None = None
    fault_on_upstream: bool = False  # the switch is the fake upstream's, not the app's
    fault_note: str = ""
    extra_targets: dict[str, str] = field(default_factory=dict)  # job -> path on the app
    port: int = 0
    upstream_port: int = 0
    service: str = field(init=False, default="")

    def __post_init__(self) -> None:
        self.service = str(self.spec["service"])

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def fault_url(self) -> str:
        port = self.upstream_port if self.fault_on_upstream else self.port
        return f"http://127.0.0.1:{port}/_faults/{self.fault}"


def _load_spec(name: str) -> dict[str, Any]:
    loaded = YAML(typ="safe").load(ROOT / "examples" / name / "watchkeeper.yaml")
    if not isinstance(loaded, dict):
        raise SystemExit(f"examples/{name}/watchkeeper.yaml: not a mapping")
    return loaded


def _verification_request(rng: random.Random) -> Request:
    a, b = rng.randint(0, 99), rng.randint(1, 99)
    roll = rng.random()
    if roll < 0.05:  # not arithmetic: the caller's mistake (422)
        return "POST", "/verify", {"claim": "the moon is made of cheese"}, {}
    op, value = rng.choice([("+", a + b), ("-", a - b), ("*", a * b)])
    claimed = value if roll < 0.85 else value + 1  # some claims are false
    return "POST", "/verify", {"claim": f"{a}{op}{b}={claimed}"}, {}


def _gateway_request(rng: random.Random) -> Request:
    key = f"sk-demo-{rng.randint(1, 12):04d}"
    auth = {"Authorization": f"Bearer {key}"}
    if rng.random() < 0.1:
        return "GET", "/v1/usage", None, auth
    model = "gpt-4o" if rng.random() < 0.2 else "gpt-4o-mini"
    prompt = "Summarise: " + "lorem ipsum " * rng.randint(5, 60)
    return "POST", "/v1/tasks", {"prompt": prompt, "model": model}, auth


def _orders_request(rng: random.Random) -> Request:
    roll = rng.random()
    if roll < 0.6:
        return "GET", f"/orders/{rng.randint(1, 5000)}", None, {}
    if roll < 0.9:
        return "POST", f"/orders/{rng.randint(1, 5000)}/pay", None, {}
    return "GET", "/flaky", None, {}


def _catalog_request(rng: random.Random) -> Request:
    if rng.random() < 0.7:
        return "GET", f"/products/{rng.randint(1, 500)}", None, {}
    return "GET", f"/search?q={rng.choice(['lamp', 'desk', 'chair'])}", None, {}


def _example_module(name: str, port: int, *extra: str) -> list[str]:
    return [PY, "-m", f"examples.{name}", "--port", str(port), *extra]


def known_examples(work: Path) -> dict[str, Callable[[], Example]]:
    """The examples the demo knows how to drive, by name (logs and files go to ``work``)."""

    def verification_api() -> Example:
        return Example(
            name="verification_api",
            spec=_load_spec("verification_api"),
            command=lambda p, u: _example_module("verification_api", p, "--upstream-port", str(u)),
            upstream=lambda u: [PY, "-m", "examples.verification_api.upstream", "--port", str(u)],
            request=_verification_request,
            fault="errors",
            fault_value=0.5,
            fault_on_upstream=True,
            fault_note="half the paid model upstream's answers are 503s",
        )

    def llm_gateway() -> Example:
        log_file = work / "llm-gateway.json.log"
        return Example(
            name="llm_gateway",
            spec=_load_spec("llm_gateway"),
            command=lambda p, u: _example_module(
                "llm_gateway", p, *f"--upstream-port {u} --log-file".split(), str(log_file)
            ),
            upstream=lambda u: [PY, "-m", "examples.llm_gateway.upstream", "--port", str(u)],
            request=_gateway_request,
            fault="errors",
            fault_value=0.3,
            fault_on_upstream=True,
            fault_note="30% of the LLM provider's answers are 500s",
            extra_targets={  # its pg_up / redis_up stand-ins, as its README runs them
                "llm-gateway-postgres": "/_exporters/postgres",
                "llm-gateway-redis": "/_exporters/redis",
            },
        )

    def orders() -> Example:  # the quickstart: no fault switch, no upstream
        return Example(
            name="orders",
            spec={"service": "orders", "targets": ["127.0.0.1:8000"]},
            command=lambda p, _u: [
                PY,
                *f"-m uvicorn --host 127.0.0.1 --port {p} --log-level warning".split(),
                "examples.quickstart.fastapi_app:app",
            ],
            upstream=None,
            request=_orders_request,
        )

    def catalog() -> Example:
        return Example(
            name="catalog",
            spec={"service": "catalog", "targets": ["127.0.0.1:8000"]},
            command=lambda p, _u: [
                PY,
                *f"-m gunicorn -w 2 -b 127.0.0.1:{p} --log-level warning".split(),
                "examples.quickstart.flask_app:app",
            ],
            upstream=None,
            request=_catalog_request,
        )

    return {
        "verification_api": verification_api,
        "llm_gateway": llm_gateway,
        "orders": orders,
        "catalog": catalog,
    }


def choose_examples(work: Path) -> list[Example]:
    known = known_examples(work)
    wanted = os.environ.get("DEMO_EXAMPLES", "")
    if wanted:
        names = [n.strip() for n in wanted.split(",") if n.strip()]
    else:
        names = ["verification_api", "llm_gateway"]
        if not all((ROOT / "examples" / n / "__main__.py").exists() for n in names):
            names = ["orders", "catalog"]
    unknown = [n for n in names if n not in known]
    if unknown or len(names) < 2:
        raise SystemExit(
            f"DEMO_EXAMPLES={wanted!r}: name two or more of {sorted(known)}"
            + (f" (unknown: {unknown})" if unknown else "")
        )
    return [known[n]() for n in names]


# --- the demo spec -------------------------------------------------------------------


def demo_spec(example: Example, sink_url: str) -> dict[str, Any]:
    """The example's spec, changed only where a few-minute demo on loopback needs it."""
    spec: dict[str, Any] = json.loads(json.dumps(example.spec))  # a deep copy
    target = str((spec.get("targets") or ["127.0.0.1:8000"])[0])
    path = "/metrics"
    if "://" in target:
        rest = target.split("://", 1)[1]
        path = "/" + rest.split("/", 1)[1] if "/" in rest else "/metrics"
    spec["targets"] = [f"http://127.0.0.1:{example.port}{path}"]
    spec["scrape_interval"] = SCRAPE
    alerts = spec.setdefault("alerts", {})
    for name in ["HighErrorRate", "HighLatencyP99", "ServiceDown", "HealthCheckFailing"]:
        override = alerts.get(name) or {}
        if override.get("enabled", True):
            override["for"] = ALERT_FOR
            if name in ("HighErrorRate", "HighLatencyP99"):
                override["window"] = "1m"
            alerts[name] = override
    for custom in alerts.get("custom", []) or []:
        if custom.get("for") not in ("0s", "0m"):
            custom["for"] = ALERT_FOR
    for dependency in spec.get("dependencies", []) or []:
        if "url" in dependency:  # probes go through the monitor, never off the machine
            dependency.pop("blackbox", None)
    notify = spec.get("notify") or {}
    receivers = notify.get("receivers") or [{"name": "demo"}]
    notify["receivers"] = [{"name": r["name"], "webhook": {"url": sink_url}} for r in receivers]
    notify.update(group_wait="2s", group_interval="5s", repeat_interval="1h")
    spec["notify"] = notify
    return spec


# --- the webhook receiver ------------------------------------------------------------


class Receiver:
    """A Slack-like webhook receiver on loopback: keeps what Alertmanager-style
    notifications arrived (receiver, status, alert names)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        received = self.lines

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
                with contextlib.suppress(ValueError):
                    payload = json.loads(body)
                    names = sorted(
                        {a.get("labels", {}).get("alertname", "?") for a in payload["alerts"]}
                    )
                    received.append(
                        f"{time.strftime('%H:%M:%S')} {payload.get('receiver', '?')}: "
                        f"{payload.get('status', '?')} {', '.join(names)}"
                    )
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- processes -----------------------------------------------------------------------


class Processes:
    """Every process the demo starts; all stopped (TERM, then KILL) and reaped on exit."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.running: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"{name}.log").open("wb")
        process = subprocess.Popen(
            argv,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,  # Ctrl-C reaches the demo, which stops them in order
        )
        log.close()
        self.running.append((name, process))
        return process

    def wait_http(self, url: str, process: subprocess.Popen[bytes], name: str) -> None:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if process.poll() is not None:
                tail = (self.log_dir / f"{name}.log").read_text(errors="replace")[-2000:]
                raise SystemExit(f"{name} exited with {process.returncode}:\n{tail}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=2).status_code < 500:
                    return
            time.sleep(0.2)
        raise SystemExit(f"{name}: {url} did not answer within 90 s (log: {self.log_dir})")

    def stop_all(self) -> list[int]:
        for _name, process in reversed(self.running):
            if process.poll() is None:
                process.terminate()
        for _name, process in reversed(self.running):
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return [p.pid for _n, p in self.running]


# --- reading the monitor -------------------------------------------------------------


class Monitor:
    def __init__(self, url: str, token: str) -> None:
        self.client = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )

    def by_job(self, query: str) -> dict[str, float]:
        response = self.client.get("/api/v1/query", params={"query": query})
        response.raise_for_status()
        out: dict[str, float] = {}
        for row in response.json()["data"]["result"]:
            out[row["metric"].get("job", "")] = float(row["value"][1])
        return out

    def alerts(self) -> list[dict[str, Any]]:
        response = self.client.get("/api/v1/alerts")
        response.raise_for_status()
        alerts: list[dict[str, Any]] = response.json()["data"]["alerts"]
        return alerts

    def close(self) -> None:
        self.client.close()


@dataclass
class Snapshot:
    services: list[str]
    up: dict[str, float] = field(default_factory=dict)
    rps: dict[str, float] = field(default_factory=dict)
    errors: dict[str, float] = field(default_factory=dict)
    quantiles: dict[str, dict[str, float]] = field(default_factory=dict)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""


def read_snapshot(monitor: Monitor, services: list[str]) -> Snapshot:
    snap = Snapshot(services)
    count = f"{DURATION}_count"
    try:
        snap.up = monitor.by_job("max by (job) (up)")
        snap.rps = monitor.by_job(f"sum by (job) (rate({count}[{WINDOW}]))")
        snap.errors = monitor.by_job(
            f'sum by (job) (rate({count}{{http_response_status_code=~"5.."}}[{WINDOW}]))'
        )
        for q in ("0.5", "0.95", "0.99"):
            snap.quantiles[q] = monitor.by_job(
                f"histogram_quantile({q}, sum by (job, le) (rate({DURATION}_bucket[{WINDOW}])))"
            )
        snap.alerts = monitor.alerts()
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        snap.error = f"monitor not answering: {exc}"
    return snap


def _ms(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "-"
    return f"{value * 1000:.0f} ms"


def render(snap: Snapshot, header: str, receiver: Receiver, title: str) -> Group:
    table = Table(title=f"{title} (embedded monitor, rate over {WINDOW})", title_justify="left")
    table.add_column("service", no_wrap=True, min_width=18)
    for column in ["up", "requests/s", "error %", "p50", "p95", "p99"]:
        table.add_column(column, justify="right", no_wrap=True)
    for service in snap.services:
        rps = snap.rps.get(service)
        errors = snap.errors.get(service, 0.0)
        ratio = f"{errors / rps:.1%}" if rps else "-"
        up = snap.up.get(service)
        table.add_row(
            service,
            "-" if up is None else ("yes" if up >= 1 else "[red]NO[/]"),
            "-" if rps is None else f"{rps:.1f}",
            ratio,
            *(_ms(snap.quantiles.get(q, {}).get(service)) for q in ("0.5", "0.95", "0.99")),
        )
    alerts = Table(title="Alerts (/api/v1/alerts)", title_justify="left")
    for column in ["alert", "state", "severity", "service", "active since"]:
        alerts.add_column(column, no_wrap=True)
    for alert in sorted(snap.alerts, key=lambda a: (a["state"], a["labels"]["alertname"])):
        labels = alert["labels"]
        state = alert["state"]
        alerts.add_row(
            labels.get("alertname", "?"),
            f"[red]{state}[/]" if state == "firing" else state,
            labels.get("severity", ""),
            labels.get("service", labels.get("job", "")),
            str(alert.get("activeAt", ""))[11:19],
        )
    if not snap.alerts:
        alerts.add_row("(none)", "", "", "", "")
    notes = receiver.lines[-6:] or ["(none yet)"]
    receiver_text = "Webhook receiver (every route's receiver points here):\n  " + "\n  ".join(
        notes
    )
    parts: list[Any] = [Text.from_markup(header), table, alerts, Text(receiver_text + "\n")]
    if snap.error:
        parts.append(Text(snap.error, style="yellow"))
    return Group(*parts)


# --- traffic -------------------------------------------------------------------------


class Traffic:
    """Bounded background traffic: ``rate`` requests/s per example, until stopped."""

    def __init__(self, examples: list[Example], rate: float = 15.0) -> None:
        self.examples = examples
        self.interval = 1.0 / rate
        self.stop = threading.Event()
        self.sent: dict[str, int] = {e.service: 0 for e in examples}
        self.threads = [
            threading.Thread(target=self._run, args=(e, i), daemon=True)
            for i, e in enumerate(examples)
            for _ in range(3)
        ]

    def _run(self, example: Example, seed: int) -> None:
        rng = random.Random(seed * 1000 + threading.get_ident() % 1000)
        with httpx.Client(base_url=example.base, timeout=10) as client:
            while not self.stop.is_set():
                method, path, body, headers = example.request(rng)
                with contextlib.suppress(httpx.HTTPError):
                    client.request(method, path, json=body, headers=headers)
                self.sent[example.service] += 1
                self.stop.wait(self.interval * 3 * rng.uniform(0.5, 1.5))

    def __enter__(self) -> Traffic:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(15)


# --- main ----------------------------------------------------------------------------


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def interrupts_as_keyboard() -> Iterator[None]:
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main() -> int:
    seconds = float(os.environ.get("DEMO_SECONDS", "300"))
    fault_at = min(60.0, seconds / 2)
    console = Console(width=max(100, Console().width))
    token = secrets.token_urlsafe(16)
    with contextlib.ExitStack() as stack:
        stack.enter_context(interrupts_as_keyboard())
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="watchkeeper-demo-")))
        examples = choose_examples(work)
        procs = Processes(work)
        receiver = stack.enter_context(Receiver())
        monitor_port = free_port()
        monitor_url = f"http://127.0.0.1:{monitor_port}"
        stopped: list[int] = []
        try:
            for example in examples:
                example.port = free_port()
                if example.upstream is not None:
                    example.upstream_port = free_port()
                    upstream = procs.start(
                        f"{example.name}-upstream", example.upstream(example.upstream_port)
                    )
                    procs.wait_http(
                        f"http://127.0.0.1:{example.upstream_port}/health",
                        upstream,
                        f"{example.name}-upstream",
                    )
                process = procs.start(
                    example.name, example.command(example.port, example.upstream_port)
                )
                procs.wait_http(f"{example.base}/health", process, example.name)
                console.print(
                    f"[bold]{example.service}[/] (examples/{example.name}) on {example.base}"
                    f"  pid {process.pid}"
                )
            first, rest = examples[0], examples[1:]
            argv = [
                PY, "-m", "watchkeeper.cli", "up", "--data-dir", str(work / "data"),
                "--listen", f"127.0.0.1:{monitor_port}", "--token", token,
                "--scrape-interval", SCRAPE, "--evaluation-interval", EVALUATION,
                "--alert-resend-delay", EVALUATION,
            ]  # fmt: skip
            for i, example in enumerate(examples):
                for job, path in example.extra_targets.items():
                    argv += ["--target", f"{job}={example.base}{path}"]
                spec_path = work / f"{example.service}.watchkeeper.yaml"
                YAML(typ="safe").dump(demo_spec(example, receiver.url), spec_path)
                if example is first:
                    argv += ["-f", str(spec_path)]
                    continue
                out = work / f"generated-{i}"
                subprocess.run(
                    [PY, "-m", "watchkeeper.cli", "generate", "-f", str(spec_path),
                     "--out", str(out)],
                    cwd=ROOT, check=True, capture_output=True,
                )  # fmt: skip
                argv += ["--target", f"{example.service}={example.base}/metrics"]
                argv += [
                    "--rules",
                    str(out / "prometheus" / "rules" / f"{example.service}.rules.yml"),
                ]
            monitor_proc = procs.start("monitor", argv)
            procs.wait_http(f"{monitor_url}/-/healthy", monitor_proc, "monitor")
            console.print(
                f"[bold]embedded monitor[/] (watchkeeper up -f {first.service} spec, "
                f"{', '.join(e.service for e in rest)} as --target + generated --rules)  "
                f"pid {monitor_proc.pid}"
            )
            console.print(f"[bold green]console:[/] {monitor_url}/?token={token}")
            console.print(
                f"  API token (random, this run only): {token}; e.g.\n"
                f"  .venv/bin/watchkeeper query --url {monitor_url} --token {token} 'up'"
            )
            console.print(f"webhook receiver: {receiver.url}   logs (removed at exit): {work}")
            faulty = next((e for e in examples if e.fault), None)
            console.print(
                f"Driving traffic for {seconds:.0f} s (DEMO_SECONDS); "
                + (
                    f"fault [bold]{faulty.fault}[/] on {faulty.service} at {fault_at:.0f} s "
                    f"({faulty.fault_note})."
                    if faulty
                    else "these examples have no fault switch: no fault is injected."
                )
                + " Ctrl-C stops everything."
            )
            monitor = Monitor(monitor_url, token)
            stack.callback(monitor.close)
            services = [e.service for e in examples]
            started = time.monotonic()
            fault_on = False
            snap = Snapshot(services)
            with Traffic(examples), Live(console=console, refresh_per_second=1) as live:
                while (elapsed := time.monotonic() - started) < seconds:
                    if faulty and not fault_on and elapsed >= fault_at:
                        params = {"value": str(faulty.fault_value)} if faulty.fault_value else None
                        httpx.put(faulty.fault_url, params=params, timeout=5).raise_for_status()
                        fault_on = True
                        console.print(
                            f"[bold red]{time.strftime('%H:%M:%S')} fault injected:[/] "
                            f"PUT {faulty.fault_url}"
                            + (f"?value={faulty.fault_value}" if faulty.fault_value else "")
                            + f" ({faulty.service}: {faulty.fault_note})"
                        )
                    snap = read_snapshot(monitor, services)
                    state = "[red]fault ON[/]" if fault_on else "no fault yet"
                    header = (
                        f"t = {elapsed:.0f}/{seconds:.0f} s   {state}   "
                        f"console {monitor_url}/?token={token}"
                    )
                    live.update(render(snap, header, receiver, "Golden signals"))
                    time.sleep(2)
            snap = read_snapshot(monitor, services)
            console.print(render(snap, f"after {seconds:.0f} s", receiver, "Summary"))
        except KeyboardInterrupt:
            console.print("[yellow]interrupted: stopping everything[/]")
        finally:
            stopped = procs.stop_all()
            console.print(f"stopped processes {', '.join(map(str, stopped))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
