"""A fake OpenAI- and Anthropic-compatible HTTP server on 127.0.0.1 for the client tests.

The real ``openai`` and ``anthropic`` clients talk to it through ``base_url``: the
whole client stack (HTTP, retries, parsing, streams) runs, and no request leaves
the machine. The requested model picks the behaviour: ``rate-limited`` answers 429,
``overloaded`` 500, anything else a normal reply (or an SSE stream when asked).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# What the fake server answers with: the model that "answered" and the usage.
OPENAI_MODEL = "gpt-4o-2024-08-06"
OPENAI_USAGE = {"prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500}
ANTHROPIC_MODEL = "claude-sonnet-4-20250514"
ANTHROPIC_USAGE = {"input_tokens": 2000, "output_tokens": 500}


def _openai_reply(model: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": model,
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": "4"}}],
        "usage": OPENAI_USAGE,
    }  # fmt: skip


def _openai_response(model: str) -> dict[str, Any]:
    """A Responses API reply (the fields the client reads; it tolerates the rest missing)."""
    text = {"type": "output_text", "text": "4", "annotations": []}
    return {
        "id": "resp_1", "object": "response", "created_at": 1, "model": model,
        "status": "completed", "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
        "output": [{"type": "message", "id": "msg_1", "role": "assistant",
                    "status": "completed", "content": [text]}],
        "usage": {"input_tokens": 100, "output_tokens": 10, "total_tokens": 110,
                  "input_tokens_details": {"cached_tokens": 0},
                  "output_tokens_details": {"reasoning_tokens": 0}},
    }  # fmt: skip


def _openai_stream(model: str, include_usage: bool) -> list[dict[str, Any]]:
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": model}
    chunks: list[dict[str, Any]] = [
        {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": word}}]}
        for word in ("two ", "plus ", "two")
    ]
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    if include_usage:
        chunks.append({**base, "choices": [], "usage": OPENAI_USAGE})
    return chunks


def _anthropic_reply(model: str) -> dict[str, Any]:
    return {
        "id": "msg_1", "type": "message", "role": "assistant", "model": model,
        "content": [{"type": "text", "text": "4"}], "stop_reason": "end_turn",
        "stop_sequence": None, "usage": ANTHROPIC_USAGE,
    }  # fmt: skip


def _anthropic_stream(model: str) -> list[tuple[str, dict[str, Any]]]:
    usage = {"input_tokens": ANTHROPIC_USAGE["input_tokens"], "output_tokens": 1}
    start = {**_anthropic_reply(model), "content": [], "stop_reason": None, "usage": usage}
    return [
        ("message_start", {"type": "message_start", "message": start}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "text_delta", "text": "4"}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta",
                           "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                           "usage": {"output_tokens": ANTHROPIC_USAGE["output_tokens"]}}),
        ("message_stop", {"type": "message_stop"}),
    ]  # fmt: skip


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _sse(self, events: list[tuple[str | None, dict[str, Any]]], done: bool) -> None:
        parts = []
        for name, data in events:
            prefix = f"event: {name}\n" if name else ""
            parts.append(f"{prefix}data: {json.dumps(data)}\n\n")
        if done:
            parts.append("data: [DONE]\n\n")
        body = "".join(parts).encode()
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        request = json.loads(self.rfile.read(length) or b"{}")
        model = str(request.get("model", ""))
        anthropic = self.path.endswith("/messages")
        if model == "rate-limited":
            error = {"type": "rate_limit_error", "message": "slow down"}
            self._json(429, {"type": "error", "error": error} if anthropic else {"error": error})
            return
        if model == "overloaded":
            error = {"type": "api_error", "message": "try later"}
            self._json(500, {"type": "error", "error": error} if anthropic else {"error": error})
            return
        stream = bool(request.get("stream"))
        if self.path.endswith("/embeddings"):
            self._json(200, {"object": "list", "model": "text-embedding-3-small",
                             "data": [{"object": "embedding", "index": 0, "embedding": [0.5]}],
                             "usage": {"prompt_tokens": 8, "total_tokens": 8}})  # fmt: skip
            return
        if self.path.endswith("/responses"):
            self._json(200, _openai_response(OPENAI_MODEL))
            return
        if anthropic:
            if stream:
                self._sse(list(_anthropic_stream(ANTHROPIC_MODEL)), done=False)
            else:
                self._json(200, _anthropic_reply(ANTHROPIC_MODEL))
        elif stream:
            include = bool((request.get("stream_options") or {}).get("include_usage"))
            self._sse([(None, c) for c in _openai_stream(OPENAI_MODEL, include)], done=True)
        else:
            self._json(200, _openai_reply(OPENAI_MODEL))


@contextmanager
def fake_llm_server() -> Iterator[str]:
    """Serve on a free port of 127.0.0.1; yields the base URL ``http://127.0.0.1:PORT``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
