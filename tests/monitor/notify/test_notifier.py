"""The notifier end to end: real webhook sinks on 127.0.0.1, real timers, real retries."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.monitor.notify.sink import Sink, wait_for
from tests.monitor.notify.support import alert, running, webhook_config
from watchkeeper.monitor.notify import DeliveryOptions, Notifier, parse_config
from watchkeeper.monitor.notify.matchers import fingerprint

FAST = DeliveryOptions(max_attempts=10_000, backoff_initial_s=0.05, backoff_max_s=0.3)
REPO = Path(__file__).resolve().parents[3]


def now_ms() -> int:
    return int(time.time() * 1000)


def summary(body: dict[str, Any]) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    alerts = tuple((a["labels"].get("instance", ""), a["status"]) for a in body["alerts"])
    return body["groupLabels"]["alertname"], body["status"], alerts


def test_a_webhook_receives_grouped_firing_then_resolved_payloads(tmp_path: Path) -> None:
    with Sink() as sink:
        sink.start()
        config = parse_config(webhook_config({"hook": sink.url}), external_url="http://wk:9099")
        with running(Notifier(config, tmp_path, delivery=FAST)) as notifier:
            t = now_ms()
            notifier.notify(
                [
                    alert(
                        "Down",
                        starts=t,
                        ends=t + 600_000,
                        instance="a",
                        annotations={"summary": "a is down"},
                    ),
                    alert(
                        "Down",
                        starts=t,
                        ends=t + 600_000,
                        instance="b",
                        annotations={"summary": "b is down"},
                    ),
                    alert("Slow", starts=t, ends=t + 600_000, instance="a"),
                ]
            )
            wait_for(lambda: len(sink.received()) >= 2, what="two firing groups")
            firing = {b["groupLabels"]["alertname"]: b for b in sink.received()}
            down = firing["Down"]
            assert summary(down) == ("Down", "firing", (("a", "firing"), ("b", "firing")))
            assert summary(firing["Slow"]) == ("Slow", "firing", (("a", "firing"),))
            assert down["version"] == "4"
            assert down["receiver"] == "hook"
            assert down["groupKey"] == '{}:{alertname="Down"}'
            assert down["truncatedAlerts"] == 0
            assert down["externalURL"] == "http://wk:9099"
            assert down["commonLabels"] == {"alertname": "Down"}
            assert down["commonAnnotations"] == {}
            first = down["alerts"][0]
            assert first["endsAt"] == "0001-01-01T00:00:00Z"
            assert first["annotations"] == {"summary": "a is down"}
            assert first["fingerprint"] == fingerprint((("alertname", "Down"), ("instance", "a")))
            assert set(first) == {
                "status",
                "labels",
                "annotations",
                "startsAt",
                "endsAt",
                "generatorURL",
                "fingerprint",
            }
            # Resolve one Down alert: the group's next message says so, the other group
            # hears nothing.
            end = now_ms()
            notifier.notify([alert("Down", starts=t, ends=end, instance="a")])
            wait_for(lambda: len(sink.received()) >= 3, what="the resolved notification")
            third = sink.received()[2]
            assert summary(third) == ("Down", "firing", (("a", "resolved"), ("b", "firing")))
            assert third["alerts"][0]["endsAt"] != "0001-01-01T00:00:00Z"
            time.sleep(1.5)  # three group intervals: nothing else is due
            assert len(sink.received()) == 3


def test_a_receiver_that_is_down_gets_everything_once_it_is_back(tmp_path: Path) -> None:
    sink = Sink()  # not listening yet
    config = parse_config(webhook_config({"hook": sink.url}))
    with running(Notifier(config, tmp_path, delivery=FAST)) as notifier:
        t = now_ms()
        notifier.notify([alert("Down", starts=t, ends=t + 600_000, instance="a")])

        def failed_attempts() -> int:
            rows = notifier.store.notifications()
            return sum(1 for _, attempts in rows for a in attempts if not a.ok)

        wait_for(lambda: failed_attempts() >= 3, what="failed attempts")
        notifier.notify([alert("Down", starts=t, ends=now_ms(), instance="a")])
        wait_for(lambda: notifier.store.counts().get("pending", 0) == 2, what="resolved queued")
        (_row, _attempts), *_ = notifier.store.notifications(status="pending")
        with sink:
            sink.start()
            wait_for(lambda: len(sink.received()) == 2, what="both notifications")
            bodies = sink.received()
            # In order: the firing notification, then the resolved one.
            assert [b["status"] for b in bodies] == ["firing", "resolved"]
            wait_for(lambda: notifier.store.counts() == {"delivered": 2}, what="delivered")
        rows = notifier.store.notifications()
        _firing_row, firing_attempts = rows[-1]
        assert firing_attempts[-1].ok
        assert firing_attempts[-1].status_code == 200
        failed = [a for a in firing_attempts if not a.ok]
        assert len(failed) >= 3
        assert all("ConnectError" in a.error for a in failed), failed[0].error
        assert all(a.receiver == "hook" and a.integration == "webhook[0]" for a in failed)


def test_dead_letter_after_bounded_tries_and_at_once_for_a_client_error(tmp_path: Path) -> None:
    with Sink(status=503) as failing, Sink(status=400) as rejecting:
        failing.start()
        rejecting.start()
        config = parse_config(
            webhook_config(
                {"failing": failing.url, "rejecting": rejecting.url},
                routes=[{"receiver": "rejecting", "matchers": ['team="x"']}],
            )
        )
        options = DeliveryOptions(max_attempts=3, backoff_initial_s=0.05, backoff_max_s=0.1)
        with running(Notifier(config, tmp_path, delivery=options)) as notifier:
            t = now_ms()
            notifier.notify(
                [
                    alert("A", starts=t, ends=t + 600_000),
                    alert("B", starts=t, ends=t + 600_000, team="x"),
                ]
            )
            wait_for(lambda: notifier.store.counts() == {"dead": 2}, what="two dead letters")
            by_receiver = {row.receiver: (row, a) for row, a in notifier.store.notifications()}
            row, attempts = by_receiver["failing"]
            assert [a.status_code for a in attempts] == [503, 503, 503]
            assert row.attempts == 3
            assert "HTTP 503" in row.last_error
            row, attempts = by_receiver["rejecting"]
            assert [a.status_code for a in attempts] == [400]


def test_secrets_reach_the_receiver_but_never_the_attempt_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "s3cr3t-bearer-token-value"
    hook_secret = "T000/B000/XXXXSLACKSECRET"
    monkeypatch.setenv("WK_TEST_BEARER", token)
    down = Sink()  # never listening: Slack's URL carries its secret in the path
    monkeypatch.setenv("WK_TEST_SLACK", f"http://127.0.0.1:{down.port}/services/{hook_secret}")
    with Sink() as sink:
        sink.start()
        config = parse_config(
            {
                "route": {"receiver": "both", "group_wait": "100ms"},
                "receivers": [
                    {
                        "name": "both",
                        "webhook_configs": [
                            {
                                "url": sink.url,
                                "http_config": {
                                    "authorization": {"credentials": "${WK_TEST_BEARER}"}
                                },
                            }
                        ],
                        "slack_configs": [{"api_url": "${WK_TEST_SLACK}", "channel": "#ops"}],
                    }
                ],
            }
        )
        assert token not in repr(config)
        assert hook_secret not in repr(config)
        options = DeliveryOptions(max_attempts=2, backoff_initial_s=0.05, backoff_max_s=0.05)
        with running(Notifier(config, tmp_path, delivery=options)) as notifier:
            t = now_ms()
            notifier.notify([alert("Down", starts=t, ends=t + 600_000)])
            wait_for(lambda: sink.received(), what="the webhook")
            assert sink.headers[0]["Authorization"] == f"Bearer {token}"
            wait_for(lambda: notifier.store.counts().get("dead") == 1, what="slack dead")
            logged = orjson.dumps(
                [
                    (row.__repr__(), [a.__repr__() for a in attempts])
                    for row, attempts in notifier.store.notifications()
                ]
            ).decode()
            assert "slack[0]" in logged
            assert token not in logged
            assert hook_secret not in logged
        raw = (tmp_path / "notify" / "notify.db").read_bytes()
        assert token.encode() not in raw
        assert hook_secret.encode() not in raw


def _pending(db: Path) -> list[tuple[int, int]]:
    if not db.exists():
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT id, attempts FROM outbox WHERE status = 'pending'").fetchall()
    except sqlite3.OperationalError:  # the process has not created its tables yet
        return []
    finally:
        conn.close()
    return [(int(i), int(n)) for i, n in rows]


def test_nothing_is_lost_across_kill_9(tmp_path: Path) -> None:
    sink = Sink()  # down while the first process runs
    config_path = tmp_path / "config.json"
    config_path.write_bytes(
        orjson.dumps(webhook_config({"hook": sink.url}, group_wait="100ms", group_interval="200ms"))
    )
    data = tmp_path / "data"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [
        sys.executable,
        "-m",
        "tests.monitor.notify.notifier_proc",
        str(data),
        str(config_path),
    ]
    first = subprocess.Popen([*command, "feed"], cwd=REPO, env=env, stdout=subprocess.DEVNULL)
    try:
        db = data / "notify" / "notify.db"
        # Firing and resolved notifications for both groups are queued; the firing ones
        # (first in their lanes) have been tried and failed.
        wait_for(
            lambda: len(_pending(db)) == 4 and sum(n >= 1 for _, n in _pending(db)) == 2,
            what="four pending notifications, two of them tried",
        )
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert first.returncode == -signal.SIGKILL
    with sink:
        sink.start()
        second = subprocess.Popen([*command, "serve"], cwd=REPO, env=env, stdout=subprocess.DEVNULL)
        try:
            wait_for(lambda: len(sink.received()) >= 4, what="every notification after restart")
            wait_for(lambda: not _pending(db), what="an empty outbox")
        finally:
            second.send_signal(signal.SIGKILL)
            second.wait()
        got = sorted((b["groupLabels"]["alertname"], b["status"]) for b in sink.received())
        assert got == [
            ("Down", "firing"),
            ("Down", "resolved"),
            ("Slow", "firing"),
            ("Slow", "resolved"),
        ]
        for name in ("Down", "Slow"):
            statuses = [
                b["status"] for b in sink.received() if b["groupLabels"]["alertname"] == name
            ]
            assert statuses == ["firing", "resolved"]


def test_notify_from_many_threads_loses_nothing(tmp_path: Path) -> None:
    with Sink() as sink:
        sink.start()
        config = parse_config(webhook_config({"hook": sink.url}, group_by=["alertname", "n"]))
        with running(Notifier(config, tmp_path, delivery=FAST)) as notifier:
            t = now_ms()

            def feed(worker: int) -> None:
                for i in range(50):
                    notifier.notify([alert(f"W{worker}", starts=t, ends=t + 600_000, n=str(i))])

            threads = [threading.Thread(target=feed, args=(w,)) for w in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            wait_for(lambda: len(sink.received()) >= 200, 60, "200 groups")
            got = sorted(
                (b["groupLabels"]["alertname"], b["groupLabels"]["n"]) for b in sink.received()
            )
            assert got == sorted((f"W{w}", str(i)) for w in range(4) for i in range(50))
