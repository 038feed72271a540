"""A real HTTP target on 127.0.0.1 whose response each test controls."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Exposition:
    body: str = ""
    content_type: str = "text/plain; version=0.0.4; charset=utf-8"
    status: int = 200
    gzip: bool = False
    delay_s: float = 0.0
    requests: list[dict[str, str]] = field(default_factory=list)


class Target:
    def __init__(self, server: ThreadingHTTPServer, exposition: Exposition) -> None:
        self.server = server
        self.exposition = exposition

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/metrics"


def _handler(exposition: Exposition) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            exposition.requests.append(dict(self.headers.items()))
            if exposition.delay_s:
                time.sleep(exposition.delay_s)
            body = exposition.body.encode()
            self.send_response(exposition.status)
            self.send_header("Content-Type", exposition.content_type)
            if exposition.gzip:
                body = gzip.compress(body)
                self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the scraper gave up (timeout or body limit)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def target() -> Iterator[Target]:
    exposition = Exposition()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(exposition))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield Target(server, exposition)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
