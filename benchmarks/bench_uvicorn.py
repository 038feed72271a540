"""Throughput over loopback: a bare FastAPI app vs the same app instrumented, under uvicorn.

Each variant runs in its own real uvicorn process (1 worker, 127.0.0.1, a free
port, access log off for both so the comparison is not diluted by logging). The
load comes from ``wrk`` in a separate process (``apt-get install -y wrk``), or,
when wrk is missing, from a bounded asyncio keep-alive client of fixed concurrency in
a subprocess. Load goes to one server at a time, in rounds that alternate the
order, each round in new server processes (``--no-fresh``: one process per variant
for the whole run). A process's own layout (address space, string-hash seed) moves
its speed by a few percent for its whole life, which one process per variant would
turn into a bias; fresh processes spread it over the rounds. We report requests/s
per round, the medians and their ratio (the verdict), and the median of each
round's paired ratio (the variant's req/s over bare's in the same round; with fresh
processes every round it carries two processes' noise, so it is shown, not judged).
``--together`` loads every server at once instead, all pinned to the same CPU, each
by its own load generator: on a host whose speed drifts within seconds (one
server process read 5,178 to 7,256 req/s from one 2 s run to the next), the drift
then hits every variant of a round alike, and the round's paired ratio is the
measure. The servers share the CPU (the scheduler gives each its fair share) and
its caches, so each request runs colder than on a CPU of its own.
Everything is bounded: fixed duration per run, timeouts on every
wait, and the servers are killed at the end of each round, also on error.

Requests/s on a shared machine depend on how much CPU the server was given, so we
also read the server process's CPU time (``/proc/<pid>/stat``) around each run:
CPU µs per request is the server's cost, free of other processes' load, and
``bare CPU/req ÷ watchkeeper CPU/req`` is the throughput ratio a dedicated core
would see. Both are reported; the target verdict uses requests/s as specified.

After each round (or the last, with ``--no-fresh``) the instrumented server's own
/metrics is read back and its request count compared with what the load generator
completed, to prove the measured path really recorded every request.

Why a launcher process: watchkeeper turns on its multiprocess mode when the
server's parent process looks like a gunicorn/uvicorn supervisor, and it decides
that from the parent's command line. Started directly from this module (whose
name contains "uvicorn") a single server was once misdetected; the neutral
launcher keeps the server in the single-process mode a user of ``uvicorn app:app``
gets, whatever the detection does. Each server reports the mode it ended up in.

Run: ``.venv/bin/python -m benchmarks.bench_uvicorn [--rounds 8] [--duration 4] [--together]``
(``--variants bare,watchkeeper,watchkeeper-no-loop-lag,hand-written`` adds the
diagnostic servers).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from benchmarks._common import machine, median, revision, table, verdict

TARGET_RATIO = 0.95
VARIANTS = ("bare", "watchkeeper")
# Diagnostic variants, on request (--variants): where does the cost come from?
EXTRA_VARIANTS = ("watchkeeper-no-loop-lag", "watchkeeper-inline-fold", "hand-written")
PATH = "/items/42"
ROUTE = "/items/{item_id}"
READY_TIMEOUT_S = 30.0
# Per-request timeout of the load generators: generous, because on a busy shared
# machine a process can wait seconds for a CPU, and a stall is not a server error.
TIMEOUT_S = 10.0
_MODE_RE = re.compile(r"watchkeeper-bench-mode: (\S+)")
_PID_RE = re.compile(r"watchkeeper-bench-pid: (\d+)")
_SERVER_RE = re.compile(r"watchkeeper-bench-server: (.+)")
_CLK_TCK = os.sysconf("SC_CLK_TCK")


def _pinning() -> tuple[dict[str, str], list[str]]:
    """Server on the first CPU, wrk on the last, when there are two or more: left to
    the scheduler, a server sometimes shared a CPU with wrk for a whole run, and the
    same code read 0.86 in one run and 0.97 in the next."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2 or not shutil.which("taskset"):
        return {}, []
    return {"WK_BENCH_SERVER_CPU": str(cpus[0])}, ["taskset", "-c", str(cpus[-1])]


_SERVER_PIN, _LOAD_PIN = _pinning()

# Runs the server as its child and forwards SIGTERM. Its own command line must not
# name a server supervisor (see the module docstring), so the child's argv comes in
# through the environment.
_LAUNCHER = (
    "import json, os, signal, subprocess, sys\n"
    "child = subprocess.Popen(json.loads(os.environ['WK_BENCH_CHILD_ARGV']))\n"
    "signal.signal(signal.SIGTERM, lambda *_: child.terminate())\n"
    "sys.exit(child.wait())\n"
)


# -- the server side (runs in the child process) --------------------------------------
def serve(variant: str, port: int, http: str = "auto", loop: str = "auto") -> None:
    import uvicorn

    from benchmarks.bench_http import fastapi_app

    print(f"watchkeeper-bench-pid: {os.getpid()}", file=sys.stderr, flush=True)
    if os.environ.get("WK_BENCH_SERVER_CPU"):  # pinned: see _pinning()
        os.sched_setaffinity(0, {int(os.environ["WK_BENCH_SERVER_CPU"])})
    app = fastapi_app()
    if variant == "hand-written":
        from benchmarks.bench_http import MinimalASGITimer

        app = MinimalASGITimer(app)
    elif variant.startswith("watchkeeper"):
        import watchkeeper
        from watchkeeper.instrument import multiprocess

        loop_lag = variant != "watchkeeper-no-loop-lag"
        if variant == "watchkeeper-inline-fold":  # no fold thread: the inline backstop only
            from watchkeeper.instrument.http import FOLD_AT, FOLD_LEN, HTTPMetrics

            def backlog(self: HTTPMetrics) -> None:
                self.wake_at = FOLD_LEN
                if self.waiting() > FOLD_AT:
                    self.fold()

            HTTPMetrics.backlog = backlog  # type: ignore[method-assign]

        app = watchkeeper.instrument(app, service="bench", loop_lag=loop_lag)
        directory = multiprocess.active_directory()
        mode = "single-process" if directory is None else f"multiprocess:{directory}"
        print(f"watchkeeper-bench-mode: {mode}", file=sys.stderr, flush=True)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
        http=http, loop=loop,
    )  # fmt: skip
    config.load()  # resolves "auto": httptools and uvloop when installed (uvicorn[standard])
    protocol = getattr(config.http_protocol_class, "__module__", "?").rsplit(".", 1)[-1]
    print(
        f"watchkeeper-bench-server: http={protocol} loop={_loop_name(loop)}",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.Server(config).run()


def _loop_name(loop: str) -> str:
    if loop != "auto":
        return loop
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


# -- the load side ----------------------------------------------------------------------
@dataclass
class LoadResult:
    requests: int
    seconds: float
    errors: int
    server_cpu_s: float = 0.0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def _wrk(url: str, connections: int, duration: float) -> LoadResult:
    cmd = [
        *_LOAD_PIN,
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",  # wrk takes whole seconds only
        "--timeout",
        f"{TIMEOUT_S:g}s",
        url,
    ]
    out = subprocess.run(
        cmd, capture_output=True, text=True, timeout=duration + TIMEOUT_S + 30, check=True
    ).stdout
    m = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", out)
    if m is None:
        raise RuntimeError(f"cannot read wrk's output:\n{out}")
    scale = {"ms": 1e-3, "s": 1.0, "m": 60.0}[m.group(3)]
    errors = 0
    for pattern in (r"Non-2xx or 3xx responses: (\d+)", r"Socket errors: (.*)"):
        em = re.search(pattern, out)
        if em:
            errors += sum(int(x) for x in re.findall(r"\d+", em.group(1)))
    return LoadResult(int(m.group(1)), float(m.group(2)) * scale, errors)


async def _asyncio_load(url: str, connections: int, duration: float) -> LoadResult:
    """Keep-alive HTTP/1.1 GETs over raw asyncio streams, ``connections`` at a time.

    Not httpx: its per-request client cost is several times the server's, so on a
    small machine it would measure itself. This client does no more than write a
    fixed request and read a Content-Length framed response.
    """
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = (
        f"GET {parts.path or '/'} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: bench\r\n\r\n"
    ).encode()
    done = 0
    errors = 0
    start = time.perf_counter()
    deadline = start + duration

    async def one_response(reader: asyncio.StreamReader) -> bool:
        head = await reader.readuntil(b"\r\n\r\n")
        length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
        if length is None:
            return False  # not framed by length: give this connection up
        await reader.readexactly(int(length.group(1)))
        return head.startswith(b"HTTP/1.1 200")

    async def worker() -> None:
        nonlocal done, errors
        while time.perf_counter() < deadline:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(host, port), timeout=TIMEOUT_S
                )
            except (TimeoutError, OSError):
                errors += 1
                await asyncio.sleep(0.05)
                continue
            try:
                while time.perf_counter() < deadline:
                    writer.write(request)
                    if await asyncio.wait_for(one_response(reader), timeout=TIMEOUT_S):
                        done += 1
                    else:
                        errors += 1
                        break
            except (TimeoutError, OSError, asyncio.IncompleteReadError):
                errors += 1
            finally:
                writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return LoadResult(done, time.perf_counter() - start, errors)


def _asyncio_subprocess(url: str, connections: int, duration: float) -> LoadResult:
    cmd = [sys.executable, "-m", "benchmarks.bench_uvicorn", "--load", url]
    cmd += ["--connections", str(connections), "--duration", str(duration)]
    out = subprocess.run(
        cmd, capture_output=True, text=True, timeout=duration + 60, check=True, cwd=_ROOT
    )
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return LoadResult(int(data["requests"]), float(data["seconds"]), int(data["errors"]))


def load(url: str, connections: int, duration: float) -> LoadResult:
    if shutil.which("wrk"):
        return _wrk(url, connections, duration)
    return _asyncio_subprocess(url, connections, duration)


# -- orchestration ----------------------------------------------------------------------
_ROOT = str(Path(__file__).resolve().parent.parent)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(port: int, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@dataclass
class Server:
    variant: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    results: list[LoadResult] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PATH}"

    def log_tail(self) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])
        except OSError:
            return ""

    def pid(self) -> int:
        m = _PID_RE.search(self.log.read_text(errors="replace"))
        if m is None:
            raise RuntimeError(f"{self.variant} server did not report its pid")
        return int(m.group(1))

    def cpu_seconds(self) -> float:
        """user + system CPU time of the server process so far."""
        fields = Path(f"/proc/{self.pid()}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLK_TCK  # utime, stime

    def run_load(self, connections: int, duration: float) -> LoadResult:
        before = self.cpu_seconds()
        result = load(self.url, connections, duration)
        result.server_cpu_s = self.cpu_seconds() - before
        return result

    def mode(self) -> str:
        m = _MODE_RE.search(self.log.read_text(errors="replace"))
        return m.group(1) if m else "-"

    def implementation(self) -> str:
        m = _SERVER_RE.search(self.log.read_text(errors="replace"))
        return m.group(1) if m else "-"


def _start(variant: str, log_dir: Path, server_args: Sequence[str] = ()) -> Server:
    port = _free_port()
    log = log_dir / f"{variant}.log"
    child = [sys.executable, "-m", "benchmarks.bench_uvicorn", "--serve", variant]
    child += ["--port", str(port), *server_args]
    env = dict(os.environ, WK_BENCH_CHILD_ARGV=json.dumps(child), **_SERVER_PIN)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [_ROOT, env.get("PYTHONPATH")]))
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=_ROOT,
            start_new_session=True,  # its own process group: we stop launcher and server together
        )
    server = Server(variant, port, process, log)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{variant} server exited:\n{server.log_tail()}")
        with contextlib.suppress(OSError):
            status, body = _get(port, PATH, timeout=1.0)
            if status == 200 and json.loads(body)["item_id"] == 42:
                return server
        time.sleep(0.1)
    _stop(server)
    raise RuntimeError(f"{variant} server not ready in {READY_TIMEOUT_S:g} s:\n{server.log_tail()}")


def _stop(server: Server) -> None:
    if server.process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.process.pid, signal.SIGTERM)
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=10)


@contextlib.contextmanager
def running_servers(
    variants: Sequence[str], server_args: Sequence[str] = ()
) -> Iterator[list[Server]]:
    servers: list[Server] = []
    with tempfile.TemporaryDirectory(prefix="wk-bench-uvicorn-") as tmp:
        try:
            for variant in variants:
                servers.append(_start(variant, Path(tmp), server_args))
            yield servers
        finally:
            for server in servers:
                _stop(server)


def _recorded(server: Server) -> float:
    """Requests the instrumented server counted for the benchmarked route."""
    from prometheus_client.parser import text_string_to_metric_families

    status, body = _get(server.port, "/metrics")
    if status != 200:
        return float("nan")
    total = 0.0
    for fam in text_string_to_metric_families(body.decode()):
        for s in fam.samples:
            if (
                s.name == "http_server_request_duration_seconds_count"
                and s.labels.get("http_route") == ROUTE
            ):
                total += s.value
    return total


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="uvicorn req/s: bare vs watchkeeper")
    # Many short alternating runs: on a shared machine the load drifts within
    # seconds, and finer interleaving spreads that drift over both servers.
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds per server")
    parser.add_argument(
        "--fresh",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="new server processes every round (default; --no-fresh: one per variant)",
    )
    parser.add_argument(
        "--together",
        action="store_true",
        help="load every server at once, all pinned to one CPU, in each round: the "
        "host's drift hits them alike (see the module docstring)",
    )
    # Internal: the server and the fallback load generator run as this module too.
    parser.add_argument(
        "--variants",
        default=",".join(VARIANTS),
        help=f"comma-separated, bare and watchkeeper first (extra: {', '.join(EXTRA_VARIANTS)})",
    )
    parser.add_argument(
        "--http",
        choices=("auto", "h11", "httptools"),
        default="auto",
        help="uvicorn's HTTP protocol (default auto: httptools when installed, as with "
        "uvicorn[standard], which FastAPI's own install recommends)",
    )
    parser.add_argument(
        "--loop",
        choices=("auto", "asyncio", "uvloop"),
        default="auto",
        help="uvicorn's event loop (default auto: uvloop when installed)",
    )
    parser.add_argument("--serve", choices=VARIANTS + EXTRA_VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--load", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.port, args.http, args.loop)
        return
    if args.load:
        result = asyncio.run(_asyncio_load(args.load, args.connections, args.duration))
        print(json.dumps(result.__dict__))
        return

    generator = "wrk -t1" if shutil.which("wrk") else "an asyncio keep-alive client (no wrk)"
    print(
        f"bench_uvicorn: {args.rounds} rounds x {args.duration:g} s per variant, "
        f"{args.connections} connections, GET {PATH}, load from {generator}"
    )
    pinned = (
        f", server pinned to CPU {_SERVER_PIN['WK_BENCH_SERVER_CPU']} and the load to CPU "
        f"{_LOAD_PIN[-1]}"
        if _SERVER_PIN and _LOAD_PIN
        else ""
    )
    at_once = "all servers loaded at once" if args.together else "one server loaded at a time"
    print(f"{machine()}; uvicorn 1 worker, access log off, {at_once}{pinned}")
    print(revision("src/watchkeeper/instrument"))
    print()
    variants = args.variants.split(",")
    if variants[:2] != list(VARIANTS) or not set(variants) <= set(VARIANTS + EXTRA_VARIANTS):
        parser.error(f"--variants must start with bare,watchkeeper; extra: {EXTRA_VARIANTS}")
    results: dict[str, list[LoadResult]] = {v: [] for v in variants}
    check = _Check()
    server_args = ["--http", args.http, "--loop", args.loop]
    if args.fresh:
        # Every round in new server processes: each process has its own address-space
        # layout and string-hash seed, which move its speed by a few percent for its
        # whole life; one process per variant for the whole run would keep that bias.
        for r in range(args.rounds):
            with running_servers(variants, server_args) as servers:
                _round(servers, r, args, results, check)
    else:
        with running_servers(variants, server_args) as servers:
            for r in range(args.rounds):
                _round(servers, r, args, results, check, warm=r == 0)

    bare = results["bare"]
    bare_rps = median([x.rps for x in bare])
    bare_cpu = _cpu_us(bare)
    rows = []
    for variant in variants:
        runs = results[variant]
        rps = [x.rps for x in runs]
        m = median(rps)
        paired = median([x.rps / b.rps for x, b in zip(runs, bare, strict=True)])
        cpu = _cpu_us(runs)
        rows.append([
            variant,
            " ".join(f"{x:.0f}" for x in rps),
            f"{m:.0f}",
            f"{m / bare_rps:.3f}",
            f"{paired:.3f}",
            f"{cpu:.0f}",
            f"{bare_cpu / cpu:.3f}",
            str(sum(x.errors for x in runs)),
        ])  # fmt: skip
    headers = ["variant", "req/s per round", "median req/s", "vs bare", "paired vs bare"]
    headers += ["server CPU µs/req", "bare CPU ÷ this", "errors"]
    print(table(headers, rows))
    print()
    print(f"uvicorn: {', '.join(sorted(check.servers))}")
    print(
        f"watchkeeper server mode: {', '.join(sorted(check.modes))}; its /metrics counted "
        f"{check.recorded:.0f} requests for {ROUTE}; the load generator completed "
        f"{check.completed} (+ up to {args.connections} still in flight at the end of each "
        f"of {check.runs} runs)"
    )
    wk = results["watchkeeper"]
    ratio = median([x.rps for x in wk]) / bare_rps
    paired = median([x.rps / b.rps for x, b in zip(wk, bare, strict=True)])
    cpu_ratio = bare_cpu / _cpu_us(wk)
    print()
    print("targets:")
    if args.together:  # the servers shared each round's time: the paired ratio is the measure
        print(
            f"  uvicorn throughput watchkeeper/bare, loaded together: median of the rounds' "
            f"paired ratios {paired:.3f} >= {TARGET_RATIO}: {verdict(paired >= TARGET_RATIO)} "
            f"(by server CPU per request: {cpu_ratio:.3f}; medians' ratio: {ratio:.3f})"
        )
        return
    print(
        f"  uvicorn throughput watchkeeper/bare {ratio:.3f} req/s >= {TARGET_RATIO}: "
        f"{verdict(ratio >= TARGET_RATIO)} (by server CPU per request: {cpu_ratio:.3f}; "
        f"median of the rounds' paired ratios: {paired:.3f})"
    )


@dataclass
class _Check:
    """What the instrumented servers counted vs what the load generator completed."""

    recorded: float = 0.0
    completed: int = 0
    runs: int = 0
    modes: set[str] = field(default_factory=set)
    servers: set[str] = field(default_factory=set)


def _round(
    servers: Sequence[Server],
    r: int,
    args: argparse.Namespace,
    results: dict[str, list[LoadResult]],
    check: _Check,
    *,
    warm: bool = True,
) -> None:
    """One round: each server warmed (when ``warm``) and loaded in turn, the order
    alternating between rounds; the instrumented server's count is read back."""
    order = list(servers) if r % 2 == 0 else list(reversed(servers))
    connections = args.connections
    if args.together:
        with ThreadPoolExecutor(len(order)) as pool:
            warmups: list[LoadResult | None] = [None] * len(order)
            if warm:
                warmups = list(pool.map(lambda s: load(s.url, connections, args.warmup), order))
            runs = list(pool.map(lambda s: s.run_load(connections, args.duration), order))
    else:
        warmups, runs = [], []
        for server in order:  # one at a time
            warmups.append(load(server.url, connections, args.warmup) if warm else None)
            runs.append(server.run_load(connections, args.duration))
    for server, warmed, result in zip(order, warmups, runs, strict=True):
        results[server.variant].append(result)
        if server.variant != "watchkeeper":
            continue
        check.completed += result.requests + (warmed.requests if warmed else 0)
        check.runs += 1 + (warmed is not None)
        check.modes.add(server.mode())
        check.servers.add(server.implementation())
        if args.fresh or r == args.rounds - 1:  # a fresh server counts only its own round
            check.recorded += _recorded(server)
            check.completed += 1  # _start's readiness request


def _cpu_us(results: Sequence[LoadResult]) -> float:
    """Median over runs of server CPU µs per completed request."""
    return median([x.server_cpu_s / x.requests * 1e6 for x in results if x.requests])


if __name__ == "__main__":
    main()
