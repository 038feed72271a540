"""A remote write receiver for tests: a real HTTP server on 127.0.0.1 that decodes each
request (snappy, then the protobuf library) and answers scripted statuses."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import cramjam

from tests.monitor.remote_write.prompb import parse
from tests.support.prometheus import free_port

__all__ = ["Receiver"]


class Receiver:
    """Answers ``statuses`` in turn (then 204); ``requests`` holds (headers, series) of each."""

    def __init__(self, statuses: list[int] | None = None, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/api/v1/write"
        self.statuses = list(statuses or [])
        self.requests: list[tuple[dict[str, str], list[Any]]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def samples(self, accepted_only: bool = True) -> list[tuple[Any, int, float]]:
        """Every (labels, timestamp, value) received, in order."""
        with self._lock:
            return [
                (labels, t, v)
                for headers, series in self.requests
                if not accepted_only or headers["x-status"] == "204"
                for labels, samples in series
                for t, v in samples
            ]

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                series = parse(bytes(cramjam.snappy.decompress_raw(body)))
                with receiver._lock:
                    status = receiver.statuses.pop(0) if receiver.statuses else 204
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    headers["x-status"] = str(status)
                    receiver.requests.append((headers, series))
                self.send_response(status)
                if status in (429, 503):
                    self.send_header("Retry-After", "0")
                message = b"" if status < 300 else b"scripted failure"
                self.send_header("content-length", str(len(message)))
                self.end_headers()
                self.wfile.write(message)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
