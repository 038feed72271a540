"""Real servers on 127.0.0.1 for the probe tests: an HTTP endpoint each test steers
(status, body, delay), a self-signed certificate made with the openssl CLI, and that
endpoint served over TLS."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


@dataclass
class Answer:
    status: int = 200
    body: bytes = b'{"status": "healthy"}'
    delay_s: float = 0.0
    methods: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    connections: int = 0


class Endpoint:
    def __init__(self, server: ThreadingHTTPServer, answer: Answer, scheme: str) -> None:
        self.server = server
        self.answer = answer
        self.scheme = scheme

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.server_port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.address}/health"


def _handler(answer: Answer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive allowed: a client reusing it would show

        def setup(self) -> None:
            answer.connections += 1
            super().setup()

        def _reply(self, with_body: bool) -> None:
            answer.methods.append(self.command)
            if answer.delay_s:
                time.sleep(answer.delay_s)
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer.body)))
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            try:
                if with_body:
                    self.wfile.write(answer.body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the probe gave up (timeout)

        def do_GET(self) -> None:
            self._reply(True)

        def do_HEAD(self) -> None:
            self._reply(False)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def _serve(answer: Answer, context: ssl.SSLContext | None) -> Iterator[Endpoint]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(answer))
    server.daemon_threads = True
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield Endpoint(server, answer, "https" if context else "http")
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    yield from _serve(Answer(), None)


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path
    not_after: float  # what `openssl x509 -enddate` says, as Unix seconds


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1, valid for 3 days."""
    openssl = shutil.which("openssl")
    assert openssl, "the openssl CLI is needed (apt-get install -y openssl)"
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "3",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    end = subprocess.run(
        [openssl, "x509", "-enddate", "-noout", "-in", str(cert)],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    # "notAfter=Nov 24 23:50:00 2026 GMT"
    return Certificate(cert, key, float(ssl.cert_time_to_seconds(end.partition("=")[2])))


@pytest.fixture
def tls_endpoint(certificate: Certificate) -> Iterator[Endpoint]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate.cert, certificate.key)
    yield from _serve(Answer(), context)
