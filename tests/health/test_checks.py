"""The check model: verdicts, errors, timeouts, caching and shared in-flight runs."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from watchkeeper.errors import ConfigurationError
from watchkeeper.health import Check, CheckResult
from watchkeeper.health._redact import redact


def run(check: Check) -> CheckResult:
    answer = check.start(None)
    return answer if isinstance(answer, CheckResult) else check.wait(answer)


async def run_async(check: Check) -> CheckResult:
    answer = check.start(asyncio.get_running_loop())
    return answer if isinstance(answer, CheckResult) else await check.wait_async(answer)


@pytest.mark.parametrize(("value", "ok"), [(None, True), (True, True), (1, True), (False, False)])
def test_return_values_decide(value: object, ok: bool) -> None:
    result = run(Check(lambda: value, name="v", cache=0))
    assert result.ok is ok
    assert (result.error is None) is ok


def test_an_exception_is_a_failure_with_its_message_and_no_secret() -> None:
    def db() -> None:
        raise ConnectionError("cannot reach postgresql://app:s3cret@db:5432/shop")

    result = run(Check(db))
    assert not result.ok
    assert result.error == "ConnectionError: cannot reach postgresql://app:***@db:5432/shop"
    assert result.last_success is None


def test_redaction_of_urls_and_key_value_secrets() -> None:
    assert redact("redis://:pw@h:6379/0") == "redis://:***@h:6379/0"
    assert redact("amqp://token@h") == "amqp://***@h"
    assert redact("host=db password=hunter2 user=x") == "host=db password=*** user=x"
    assert redact("plain text") == "plain text"


def test_async_checks_run_on_the_callers_loop() -> None:
    seen: list[asyncio.AbstractEventLoop] = []

    async def probe() -> bool:
        seen.append(asyncio.get_running_loop())
        return True

    async def main() -> CheckResult:
        result = await run_async(Check(probe))
        assert seen == [asyncio.get_running_loop()]
        return result

    assert asyncio.run(main()).ok


def test_async_checks_from_sync_code_use_the_background_loop() -> None:
    async def probe() -> None:
        await asyncio.sleep(0)

    assert run(Check(probe)).ok


def test_a_sync_lambda_returning_a_coroutine_is_awaited() -> None:
    async def ping() -> bool:
        return False

    result = run(Check(lambda: ping(), name="ping"))
    assert not result.ok
    assert result.error == "check returned False"


def test_a_hung_sync_check_times_out_and_is_not_started_again() -> None:
    release = threading.Event()
    calls: list[int] = []

    def hang() -> None:
        calls.append(1)
        release.wait(30)

    check = Check(hang, timeout=0.2, cache=0)
    start = time.monotonic()
    first = run(check)
    assert time.monotonic() - start < 5
    assert not first.ok
    assert first.error == "TimeoutError: no answer within 0.2 s"
    second = run(check)  # its thread is still stuck: fail at once, start nothing
    assert not second.ok
    assert second.error is not None
    assert second.error.startswith("still running")
    assert len(calls) == 1
    # An abandoned thread must never hold up the interpreter's exit.
    assert all(t.daemon for t in threading.enumerate() if t.name.startswith("watchkeeper-health"))
    release.set()
    for _ in range(100):  # the thread returns; the next probe runs again
        if run(check).ok:
            break
        time.sleep(0.05)
    assert len(calls) == 2


def test_a_hung_async_check_is_cancelled_at_its_deadline() -> None:
    cancelled = threading.Event()

    async def hang() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def main() -> CheckResult:
        result = await run_async(Check(hang, timeout=0.2))
        await asyncio.sleep(0.05)
        return result

    start = time.monotonic()
    result = asyncio.run(main())
    assert time.monotonic() - start < 5
    assert result.error == "TimeoutError: no answer within 0.2 s"
    assert cancelled.is_set()


def test_results_are_cached_for_the_interval() -> None:
    calls: list[int] = []
    check = Check(lambda: calls.append(1), name="counted", cache=60)
    results = [run(check) for _ in range(20)]
    assert calls == [1]
    assert not results[0].cached
    assert all(r.cached and r.ok for r in results[1:])


def test_concurrent_probes_share_one_in_flight_run() -> None:
    calls: list[int] = []

    def slow() -> None:
        calls.append(1)
        time.sleep(0.3)

    check = Check(slow, cache=0, timeout=10)
    results: list[CheckResult] = []
    threads = [threading.Thread(target=lambda: results.append(run(check))) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 20
    assert all(r.ok for r in results)
    assert calls == [1]


def test_last_success_survives_a_failure() -> None:
    healthy = [True]
    check = Check(lambda: healthy[0], name="flappy", cache=0)
    ok = run(check)
    healthy[0] = False
    failed = run(check)
    assert not failed.ok
    assert failed.last_success == ok.last_success == ok.checked_at


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fn": lambda: None}, "needs a name"),
        ({"fn": print, "timeout": 0}, "timeout must be > 0"),
        ({"fn": print, "cache": -1}, "cache must be >= 0"),
        ({"fn": "nope", "name": "x"}, "must be a callable"),
    ],
)
def test_bad_definitions_say_what_to_fix(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Check(**kwargs)  # type: ignore[arg-type]
