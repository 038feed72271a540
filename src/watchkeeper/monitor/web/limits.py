"""Bounds on request size, so one request cannot exhaust the monitor's memory."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from watchkeeper.monitor.web.auth import send_json
from watchkeeper.monitor.web.json import dumps, error_body

__all__ = ["MAX_BODY_BYTES", "MAX_QUERY_STRING_BYTES", "LimitsMiddleware"]

MAX_BODY_BYTES = 1 << 20  # a POSTed form carries one query; 1 MiB is generous
MAX_QUERY_STRING_BYTES = 64 << 10


class LimitsMiddleware:
    """Bound the query string and the request body so one request cannot exhaust memory."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int = MAX_BODY_BYTES,
        max_query_string_bytes: int = MAX_QUERY_STRING_BYTES,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_query_string_bytes = max_query_string_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if len(scope.get("query_string", b"")) > self.max_query_string_bytes:
            await self._too_large(
                send,
                f"query string exceeds {self.max_query_string_bytes} bytes; "
                "send long queries as a POST form (application/x-www-form-urlencoded)",
            )
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_body_bytes:
                await self._too_large(send, f"request body exceeds {self.max_body_bytes} bytes")
                return

        # Read the (small) body up front so an oversized chunked upload is refused
        # before the app sees any of it, then replay it to the app in one message.
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await self._too_large(send, f"request body exceeds {self.max_body_bytes} bytes")
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)

    @staticmethod
    async def _too_large(send: Send, what: str) -> None:
        await send_json(send, 413, dumps(error_body("bad_data", what)), [])
