"""Correct metrics under pre-fork servers (gunicorn -w N, uvicorn --workers N).

Each worker keeps its metrics in memory (the fast path stays the same) and writes a
snapshot file ``w-<pid>.json`` to a shared directory once a second and whenever it
serves a scrape. The worker that serves a scrape merges every file:

- counters and histograms are summed; a dead worker's last snapshot is folded into
  ``archive.json`` and its file deleted, so totals never go down and the directory
  holds at most one file per live worker plus the archive, however often workers
  restart (prometheus_client's multiprocess mode keeps every dead pid's files);
- gauges combine over live workers only (``livesum``, ``livemax``), or stay one
  series per live worker (``liveall``, labelled ``pid``: process CPU and memory).

Mode is on when ``WATCHKEEPER_MULTIPROC_DIR`` (or ``PROMETHEUS_MULTIPROC_DIR``) is
set, or automatically when the parent process is a gunicorn or uvicorn supervisor
(directory ``$TMPDIR/watchkeeper-mp-<supervisor pid>``). A worker killed with
SIGKILL loses at most its last second of counts.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import math
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson

from watchkeeper.instrument import faults
from watchkeeper.instrument.registry import MetricFamily, Registry, Sample

__all__ = ["active_directory", "activate", "flush", "merge", "merged_view"]

ENV_DIRS = ("WATCHKEEPER_MULTIPROC_DIR", "PROMETHEUS_MULTIPROC_DIR")
FLUSH_INTERVAL_S = 1.0
_AUTO_PREFIX = "watchkeeper-mp-"
_SUPERVISORS = (b"gunicorn", b"uvicorn")


class _State:
    pid = 0
    directory: Path | None = None
    registries: list[Registry] = []
    thread: threading.Thread | None = None


_state = _State()
_lock = threading.Lock()
_known: list[Registry] = []  # every registry instrument() used, kept across forks


def _supervisor_pid() -> int | None:
    """The parent's pid when it is a gunicorn/uvicorn supervisor (Linux /proc)."""
    if "gunicorn" not in sys.modules and "uvicorn" not in sys.modules:
        return None
    ppid = os.getppid()
    try:
        cmdline = Path(f"/proc/{ppid}/cmdline").read_bytes()
    except OSError:
        return None
    # `gunicorn ...`, `python /venv/bin/gunicorn ...`, `python -m uvicorn ...`
    argv = [os.path.basename(arg) for arg in cmdline.split(b"\0")[:3]]
    return ppid if any(arg in _SUPERVISORS for arg in argv) else None


def active_directory() -> Path | None:
    """This process's multiprocess directory, or None when it runs alone."""
    pid = os.getpid()
    if _state.pid == pid:
        return _state.directory
    directory: Path | None = None
    for env in ENV_DIRS:
        if os.environ.get(env):
            directory = Path(os.environ[env])
            break
    else:
        sup = _supervisor_pid()
        if sup is not None:
            directory = Path(tempfile.gettempdir()) / f"{_AUTO_PREFIX}{sup}"
            _remove_stale_auto_dirs()
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
    _state.pid, _state.directory, _state.registries, _state.thread = pid, directory, [], None
    return directory


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale_auto_dirs() -> None:
    for path in Path(tempfile.gettempdir()).glob(_AUTO_PREFIX + "*"):
        try:
            if not _alive(int(path.name[len(_AUTO_PREFIX) :])):
                shutil.rmtree(path, ignore_errors=True)
        except ValueError:
            continue


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    with open(directory / ".lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# -- files --------------------------------------------------------------------------
def _encode(families: list[MetricFamily]) -> bytes:
    def value(v: float) -> float | str:
        return v if math.isfinite(v) else repr(v)

    return orjson.dumps(
        [
            [
                f.name,
                f.type,
                f.documentation,
                f.multiprocess_mode,
                [[s.name, s.labels, value(s.value)] for s in f.samples],
            ]
            for f in families
        ]
    )


def _decode(data: bytes) -> list[MetricFamily]:
    out = []
    for name, mtype, doc, mode, samples in orjson.loads(data):
        out.append(
            MetricFamily(
                name, mtype, doc, [Sample(n, lab, float(v)) for n, lab, v in samples], mode
            )
        )
    return out


def _read(path: Path) -> list[MetricFamily]:
    try:
        return _decode(path.read_bytes())
    except (OSError, ValueError):
        return []


def _write_atomic(path: Path, data: bytes) -> None:
    # The temporary name is the writer's own (process and thread): two writers of
    # one path never rename each other's half-written file away.
    tmp = path.with_name(path.name + f".{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


# One flush at a time per process: the background flusher and a request thread
# answering /metrics (gthread workers, uvicorn's loop) both flush; serialised, the
# file always holds the latest snapshot, taken inside the lock.
_flush_lock = threading.Lock()


def _new_flush_lock() -> None:
    global _flush_lock
    _flush_lock = threading.Lock()  # a forked child must not inherit a held lock


os.register_at_fork(after_in_child=_new_flush_lock)


def flush() -> None:
    """Write this worker's snapshot now (no-op outside multiprocess mode)."""
    directory = active_directory()
    if directory is None or not _state.registries:
        return
    with _flush_lock:
        families: list[MetricFamily] = []
        for registry in _state.registries:
            families.extend(registry.snapshot())
        _write_atomic(directory / f"w-{os.getpid()}.json", _encode(families))


def _archive_dead(directory: Path, own_stale: bool) -> None:
    """Fold dead workers' counters into the archive and delete their files (locked)."""
    me = os.getpid()
    dead = []
    for path in directory.glob("w-*.json"):
        pid = int(path.stem[2:])
        if (pid == me and own_stale) or (pid != me and not _alive(pid)):
            dead.append(path)
    if not dead:
        return
    archive_path = directory / "archive.json"
    parts = [_read(archive_path)] + [_read(p) for p in dead]
    kept = [[f for f in part if f.multiprocess_mode == "sum"] for part in parts]
    _write_atomic(archive_path, _encode(merge(kept, live=[])))
    for path in dead:
        path.unlink(missing_ok=True)


# -- merging ------------------------------------------------------------------------
def _sample_order(s: Sample) -> tuple[Any, ...]:
    base = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
    le = s.labels.get("le")
    suffix_rank = 0 if le is not None else (1 if s.name.endswith("_count") else 2)
    return (base, suffix_rank, float(le) if le is not None else 0.0, s.name)


def merge(
    summed: list[list[MetricFamily]], live: list[tuple[int, list[MetricFamily]]]
) -> list[MetricFamily]:
    """Combine snapshots: ``summed`` parts are added whatever their mode (archive and
    live sums); ``live`` holds (pid, families) of live workers for the gauge modes."""
    out: dict[str, MetricFamily] = {}
    values: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], Sample]] = {}

    def add(fam: MetricFamily, pid: int | None) -> None:
        target = out.get(fam.name)
        if target is None:
            target = out[fam.name] = MetricFamily(
                fam.name, fam.type, fam.documentation, [], fam.multiprocess_mode
            )
            values[fam.name] = {}
        bucket = values[fam.name]
        mode = fam.multiprocess_mode
        for s in fam.samples:
            labels = dict(s.labels)
            if mode == "liveall" and pid is not None:
                labels["pid"] = str(pid)
            key = (s.name, tuple(sorted(labels.items())))
            prev = bucket.get(key)
            if prev is None:
                bucket[key] = Sample(s.name, labels, s.value)
            elif mode == "livemax":
                prev.value = max(prev.value, s.value)
            else:
                prev.value += s.value

    for part in summed:
        for fam in part:
            add(fam, None)
    for pid, families in live:
        for fam in families:
            add(fam, pid)
    for name, fam in out.items():
        fam.samples = sorted(values[name].values(), key=_sample_order)
    return list(out.values())


def collect(directory: Path) -> list[MetricFamily]:
    """Every worker's metrics merged (flushes this worker first)."""
    flush()
    with _locked(directory):
        _archive_dead(directory, own_stale=False)
        archive = _read(directory / "archive.json")
        live = []
        for path in sorted(directory.glob("w-*.json")):
            live.append((int(path.stem[2:]), _read(path)))
    return merge([archive], live)


# -- lifecycle ----------------------------------------------------------------------
def activate(registry: Registry) -> bool:
    """Join multiprocess mode if this process is a worker; True when active."""
    if registry not in _known:
        _known.append(registry)
    directory = active_directory()
    if directory is None:
        return False
    with _lock:
        if registry not in _state.registries:
            _state.registries.append(registry)
        if _state.thread is None:
            with _locked(directory):  # a file with our pid belongs to a dead predecessor
                _archive_dead(directory, own_stale=True)
            _state.thread = threading.Thread(target=_flush_loop, name="watchkeeper-mp", daemon=True)
            _state.thread.start()
    return True


def _flush_loop() -> None:
    stop = threading.Event()
    me = os.getpid()
    while not stop.wait(FLUSH_INTERVAL_S):
        if os.getpid() != me:
            return
        try:
            flush()
        except Exception as exc:
            faults.report("multiprocess.flush", exc)


def merged_view(registry: Registry) -> Callable[[], list[MetricFamily] | None]:
    """For the metrics endpoint: merged families in multiprocess mode, else None."""

    def view() -> list[MetricFamily] | None:
        if not activate(registry):
            return None
        directory = active_directory()
        assert directory is not None
        return collect(directory)

    activate(registry)
    return view


def _after_fork_in_child() -> None:
    # A forked worker starts from zero (the parent's counts are the parent's) and
    # starts flushing at once, before it serves anything (gunicorn --preload).
    _state.pid = 0
    for registry in _known:
        registry.reset_values()
    try:
        for registry in _known:
            activate(registry)
    except Exception as exc:
        faults.report("multiprocess.fork", exc)


def _at_exit() -> None:
    with contextlib.suppress(Exception):
        flush()


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_at_exit)
