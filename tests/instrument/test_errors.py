"""Error tracking: counted, fingerprinted stably, logged with bounded tracebacks, to Sentry."""

from __future__ import annotations

import gzip
import importlib.util
import logging
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import pytest

import watchkeeper
from watchkeeper.instrument.errors import ErrorTracker, fingerprint
from watchkeeper.instrument.registry import Registry

from .conftest import value

SOURCE = """
def parse(text):
{pad}    return int(text)

def handler(text):
    return parse(text)
"""


def load(tmp_path: Path, name: str, source: str) -> ModuleType:
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _innermost_line(exc: BaseException) -> int:
    tb = exc.__traceback__
    assert tb is not None
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_lineno


def raised(module: ModuleType, function: str = "handler") -> BaseException:
    try:
        getattr(module, function)("not a number")
    except BaseException as exc:
        return exc
    raise AssertionError("expected an exception")


def test_fingerprint_ignores_line_numbers_but_not_code_paths(tmp_path: Path) -> None:
    # The same module (same name) before and after an edit that only moves lines.
    for version in ("a", "b"):
        (tmp_path / version).mkdir()
    before = load(tmp_path / "a", "orders", SOURCE.format(pad=""))
    edited = SOURCE.format(pad="    # a comment\n\n    x = 1\n").replace(
        "def handler", "\n\ndef handler"
    )
    after = load(tmp_path / "b", "orders", edited)
    first, second = raised(before), raised(after)
    lines = [_innermost_line(e) for e in (first, second)]
    assert lines[0] != lines[1]  # the edit really moved the failing line
    assert fingerprint(first) == fingerprint(second)
    # Another code path (calling parse directly) or another type is another group.
    assert fingerprint(raised(before, "parse")) != fingerprint(first)
    other_type = KeyError("x")
    try:
        raise other_type
    except KeyError:
        pass
    assert fingerprint(other_type) != fingerprint(first)
    assert len(fingerprint(first)) == 16


def test_track_counts_and_logs_traceback_once_per_group(
    registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    errors = ErrorTracker(registry)
    caplog.set_level(logging.ERROR, logger="watchkeeper.errors")
    for _ in range(3):
        try:
            empty: dict[str, int] = {}
            empty["missing"]
        except KeyError as exc:
            group = errors.track(exc, route="/orders/{id}", method="GET")
    assert (
        value(registry, "watchkeeper_exceptions_total", type="KeyError", route="/orders/{id}") == 3
    )
    records = [r for r in caplog.records if r.name == "watchkeeper.errors"]
    assert len(records) == 3
    assert [r.exc_info is not None for r in records] == [True, False, False]
    assert {r.error_fingerprint for r in records} == {group}  # type: ignore[attr-defined]
    assert records[0].http_route == "/orders/{id}"  # type: ignore[attr-defined]
    assert "unhandled KeyError in GET /orders/{id}" in records[0].getMessage()


def test_measured_functions_are_tracked_with_their_name(
    registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    @watchkeeper.measured(name="charge", registry=registry)
    def charge() -> None:
        raise TimeoutError("gateway")

    with pytest.raises(TimeoutError):
        charge()
    assert (
        value(registry, "watchkeeper_exceptions_total", type="TimeoutError", function="charge") == 1
    )
    assert any(getattr(r, "function", None) == "charge" for r in caplog.records)


class _Sink(BaseHTTPRequestHandler):
    bodies: list[bytes] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        encoding = self.headers.get("content-encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        elif encoding == "br":
            import brotli  # type: ignore[import-not-found]

            body = brotli.decompress(body)
        type(self).bodies.append(body)
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def sentry_ingest() -> Iterator[str]:
    _Sink.bodies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://publickey@127.0.0.1:{server.server_address[1]}/1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_events_flow_to_a_configured_sentry(registry: Registry, sentry_ingest: str) -> None:
    import sentry_sdk

    client = sentry_sdk.Client(dsn=sentry_ingest, default_integrations=False)
    scope = sentry_sdk.get_global_scope()
    scope.set_client(client)
    try:
        try:
            raise LookupError("inventory 42 missing")
        except LookupError as exc:
            ErrorTracker(registry).track(exc, function="reserve")
        client.flush(timeout=10)
    finally:
        scope.set_client(None)
        client.close()
    assert any(b"inventory 42 missing" in body for body in _Sink.bodies), _Sink.bodies


def test_no_sentry_configured_means_no_event(registry: Registry, sentry_ingest: str) -> None:
    group = None
    try:
        raise LookupError("quiet")
    except LookupError as exc:
        group = ErrorTracker(registry).track(exc)
    assert group is not None
    assert _Sink.bodies == []
