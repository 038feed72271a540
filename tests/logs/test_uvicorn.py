"""Real uvicorn: one request id on every line of a request, wherever the line came from."""

from __future__ import annotations

import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.instrument.servers import free_port, serve

ORDER_LINES = {"start", "after await", "threadpool", "thread", "background", "sync background"}


def _lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [orjson.loads(raw) for raw in path.read_bytes().splitlines() if raw.strip()]


def _wait_for(path: Path, done: Any, timeout: float = 30.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        lines = _lines(path)
        if done(lines) or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)


@pytest.mark.slow
def test_uvicorn_request_ids_on_every_line(tmp_path: Path) -> None:
    log_file = tmp_path / "app.log"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = ["uvicorn", "tests.logs.servers.fastapi_logs:app", "--port", str(port),
            "--host", "127.0.0.1", "--log-level", "warning", "--no-access-log"]  # fmt: skip
    incoming = {1: "client-1", 2: "edge:2.b_c-D", 3: "bad id with spaces", 4: "x" * 129}

    def call(i: int) -> httpx.Response:
        headers = {"X-Request-ID": incoming[i]} if i in incoming else {}
        return httpx.get(f"{base}/orders/{i}", params={"tag": f"t{i}"}, headers=headers, timeout=10)

    with serve(argv, port, env={"WK_LOG_FILE": str(log_file)}):
        with ThreadPoolExecutor(max_workers=8) as pool:  # concurrent requests must not mix
            responses = dict(zip(range(8), pool.map(call, range(8)), strict=True))
        sync = httpx.get(f"{base}/sync", params={"tag": "sync"}, timeout=10)
        boom = httpx.get(f"{base}/boom", timeout=10)

        def complete(lines: list[dict[str, Any]]) -> bool:
            tags: dict[str, set[str]] = defaultdict(set)
            for line in lines:
                if "tag" in line:
                    tags[line["tag"]].add(line["message"])
            access = [line for line in lines if line["logger"] == "watchkeeper.access"]
            return all(tags[f"t{i}"] == ORDER_LINES for i in range(8)) and len(access) >= 10

        lines = _wait_for(log_file, complete)

    assert all(r.status_code == 200 for r in responses.values())
    text = log_file.read_text()
    for i, response in responses.items():
        rid = response.headers["x-request-id"]
        mine = [line for line in lines if line.get("tag") == f"t{i}"]
        assert {line["message"] for line in mine} == ORDER_LINES, i
        assert {line["request_id"] for line in mine} == {rid}, i
        assert all(line["service"] == "logs-test" for line in mine)
        # bound after the first line: on every later one, the background tasks included
        assert {line["message"] for line in mine if line.get("user_id") == i} == ORDER_LINES - {
            "start"
        }
        (access,) = [
            line for line in lines
            if line["logger"] == "watchkeeper.access" and line["request_id"] == rid
        ]  # fmt: skip
        assert access["http_route"] == "/orders/{order_id}"
        assert access["url_path"] == f"/orders/{i}"
        assert access["http_response_status_code"] == 200
        assert access["http_request_method"] == "GET"
        assert access["http_response_body_size"] == len(response.content)
        assert access["duration_ms"] > 0
        assert access["user_id"] == i
        if i in (1, 2):  # safe incoming ids are continued
            assert rid == incoming[i]
        else:  # missing or invalid: a fresh id, the bad value never echoed nor logged
            assert len(rid) == 32
            int(rid, 16)
    assert "bad id with spaces" not in text
    assert "x" * 129 not in text
    assert len({r.headers["x-request-id"] for r in responses.values()}) == 8

    (sync_line,) = [line for line in lines if line.get("tag") == "sync"]
    assert sync_line["request_id"] == sync.headers["x-request-id"]

    assert boom.status_code == 500
    (error,) = [line for line in lines if line["logger"] == "watchkeeper.errors"]
    assert error["exception"]["type"] == "RuntimeError"
    (boom_access,) = [
        line for line in lines
        if line["logger"] == "watchkeeper.access" and line["http_route"] == "/boom"
    ]  # fmt: skip
    assert boom_access["http_response_status_code"] == 500
    assert error["request_id"] == boom_access["request_id"]
