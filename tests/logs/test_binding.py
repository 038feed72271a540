"""The log context: bind/unbind/context, across awaits, tasks and threads."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor

import watchkeeper.logs as wlogs
from tests.logs.conftest import Sink
from watchkeeper.logs.binding import begin_request, end_request


def test_bind_outside_a_request_is_for_the_current_context_only(sink: Sink) -> None:
    def job() -> None:
        wlogs.bind(job="nightly")
        sink.logger.info("in job")

    contextvars.copy_context().run(job)
    sink.logger.info("after job")
    in_job, after = sink.lines()
    assert in_job["job"] == "nightly"
    assert "job" not in after  # a copied context's binds do not leak back


def test_unbind_and_get_context() -> None:
    def work() -> dict[str, object]:
        wlogs.bind(a=1, b=2)
        wlogs.unbind("a", "missing")
        return wlogs.get_context()

    assert contextvars.copy_context().run(work) == {"b": 2}


def test_context_manager_scopes_fields_and_nests(sink: Sink) -> None:
    with wlogs.context(a=1):
        with wlogs.context(b=2, a=3):
            sink.logger.info("inner")
        sink.logger.info("outer")
    sink.logger.info("none")
    inner, outer, none = sink.lines()
    assert (inner["a"], inner["b"]) == (3, 2)
    assert outer["a"] == 1
    assert "b" not in outer
    assert "a" not in none


def test_request_context_is_shared_by_threads_and_tasks_and_binds_reach_all(sink: Sink) -> None:
    async def request() -> str:
        holder, token = begin_request("req-1")
        try:
            sink.logger.info("start")
            wlogs.bind(user_id=7)  # from here on, for the whole request
            await asyncio.sleep(0)
            sink.logger.info("after await")

            def in_thread() -> None:
                sink.logger.info("thread")
                wlogs.bind(cart=3)  # bound in a thread: visible to the request afterwards

            ctx = contextvars.copy_context()
            t = threading.Thread(target=ctx.run, args=(in_thread,))
            t.start()
            t.join()
            await asyncio.get_running_loop().run_in_executor(
                None, contextvars.copy_context().run, lambda: sink.logger.info("executor")
            )
            await asyncio.create_task(asyncio.sleep(0, result=None))
            task = asyncio.create_task(_log_later(sink))
            await task
            sink.logger.info("end")
            assert wlogs.request_id() == "req-1"
            return holder.request_id
        finally:
            end_request(token)

    assert asyncio.run(request()) == "req-1"
    lines = {line["message"]: line for line in sink.lines()}
    assert {line["request_id"] for line in lines.values()} == {"req-1"}
    assert "user_id" not in lines["start"]
    for later in ("after await", "thread", "executor", "task", "end"):
        assert lines[later]["user_id"] == 7, later
    assert lines["end"]["cart"] == 3
    assert lines["executor"]["cart"] == 3  # bound in the thread, which ran before
    assert wlogs.request_id() is None  # cleared when the request ended


async def _log_later(sink: Sink) -> None:
    await asyncio.sleep(0)
    sink.logger.info("task")


def test_concurrent_requests_keep_their_own_ids(sink: Sink) -> None:
    async def request(n: int) -> None:
        _, token = begin_request(f"req-{n}")
        try:
            for step in range(3):
                sink.logger.info("step", extra={"n": n, "step": step})
                await asyncio.sleep(0)
        finally:
            end_request(token)

    async def main() -> None:
        await asyncio.gather(*(request(n) for n in range(20)))

    asyncio.run(main())
    lines = sink.lines()
    assert len(lines) == 60
    assert all(line["request_id"] == f"req-{line['n']}" for line in lines)


def test_request_context_in_a_reused_worker_thread_is_cleared(sink: Sink) -> None:
    # WSGI servers reuse threads: one request's id must never show on the next.
    def handle(n: int) -> None:
        _, token = begin_request(f"w-{n}")
        sink.logger.info("in", extra={"n": n})
        end_request(token)
        sink.logger.info("between")

    with ThreadPoolExecutor(max_workers=1) as pool:
        list(pool.map(handle, range(3)))
    lines = sink.lines()
    assert [line.get("request_id") for line in lines] == ["w-0", None, "w-1", None, "w-2", None]


def test_clear_forgets_bound_fields_but_a_request_keeps_its_id(sink: Sink) -> None:
    def work() -> None:
        wlogs.bind(a=1)
        _, token = begin_request("r")
        wlogs.bind(b=2)
        wlogs.clear()
        sink.logger.info("in request")
        end_request(token)
        sink.logger.info("after")

    contextvars.copy_context().run(work)
    in_request, after = sink.lines()
    assert {k: in_request[k] for k in in_request if k not in ("timestamp", "message")} == {
        "level": "info",
        "logger": "test.logs",
        "service": "shop",
        "request_id": "r",
    }
    assert "a" not in after
