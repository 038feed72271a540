"""The remote writer against a real HTTP receiver on 127.0.0.1: batches, the spec's
headers, retries (5xx, 429, network) and no retry on other 4xx, the bounded queue,
credentials, shutdown; and the write-path tap in front of a real TSDB."""

from __future__ import annotations

import base64
import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from tests.monitor.notify.sink import wait_for
from tests.monitor.remote_write.receiver import Receiver
from tests.support.prometheus import free_port, prometheus_binaries
from watchkeeper.monitor.model import labels_from
from watchkeeper.monitor.remote_write import (
    RemoteWriteAppendable,
    RemoteWriteCollector,
    RemoteWriteConfig,
    RemoteWriter,
)
from watchkeeper.monitor.remote_write.writer import Sample
from watchkeeper.monitor.storage import open_storage

FAST = {"batch_send_deadline_s": 0.05, "min_backoff_s": 0.01, "max_backoff_s": 0.05}


def _samples(n: int, series: int = 5, start: int = 0) -> list[Sample]:
    names = [labels_from({"__name__": "m", "s": str(i)}) for i in range(series)]
    return [(names[i % series], 1000 + i, float(i)) for i in range(start, start + n)]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def _writer(url: str, **options: object) -> RemoteWriter:
    writer = RemoteWriter(RemoteWriteConfig(url, **{**FAST, **options}))  # type: ignore[arg-type]
    writer.start()
    return writer


def test_batches_carry_every_sample_with_the_spec_headers(receiver: Receiver) -> None:
    writer = _writer(receiver.url, max_samples_per_send=100, capacity=1000)
    try:
        sent = _samples(250)
        for i in range(0, 250, 50):
            writer.offer(sent[i : i + 50])
        wait_for(lambda: len(receiver.samples()) == 250, 30, "250 samples")
    finally:
        writer.stop()
    # Grouped by series within a request, in order within a series: compare per series.
    got = receiver.samples()
    for labels in {s[0] for s in sent}:
        assert [(t, v) for lb, t, v in got if lb == labels] == [
            (t, v) for lb, t, v in sent if lb == labels
        ]
    for headers, series in receiver.requests:
        assert sum(len(samples) for _, samples in series) <= 100
        assert headers["content-encoding"] == "snappy"
        assert headers["content-type"] == "application/x-protobuf"
        assert headers["x-prometheus-remote-write-version"] == "0.1.0"
        assert headers["user-agent"].startswith("watchkeeper/")
        assert "authorization" not in headers
    assert writer.counts == {"sent": 250, "rejected": 0, "dropped": 0, "failed": 0}
    assert writer.retries == 0
    assert writer.last_sent_timestamp_ms == 1249


def test_5xx_and_429_are_retried_until_accepted() -> None:
    with Receiver(statuses=[500, 503, 429]) as receiver:
        writer = _writer(receiver.url)
        try:
            writer.offer(_samples(10))
            wait_for(lambda: writer.counts["sent"] == 10, 30, "sent after retries")
        finally:
            writer.stop()
    statuses = [h["x-status"] for h, _ in receiver.requests]
    assert statuses == ["500", "503", "429", "204"]
    assert writer.retries == 3
    # The same batch each time.
    assert len({repr(series) for _, series in receiver.requests}) == 1


def test_other_4xx_are_not_retried(caplog: pytest.LogCaptureFixture) -> None:
    with Receiver(statuses=[400]) as receiver:
        writer = _writer(receiver.url)
        try:
            with caplog.at_level(logging.WARNING, "watchkeeper.monitor.remote_write"):
                writer.offer(_samples(10))
                wait_for(lambda: writer.counts["rejected"] == 10, 30, "rejected")
            writer.offer(_samples(7, start=10))  # the next batch goes through
            wait_for(lambda: writer.counts["sent"] == 7, 30, "next batch sent")
        finally:
            writer.stop()
    assert [h["x-status"] for h, _ in receiver.requests] == ["400", "204"]
    assert writer.retries == 0
    assert "10 samples rejected with HTTP 400" in caplog.text
    assert "scripted failure" in caplog.text  # the receiver's reason, for the user


def test_network_errors_are_retried_until_the_receiver_is_up() -> None:
    port = free_port()  # nothing listens yet
    writer = _writer(f"http://127.0.0.1:{port}/api/v1/write")
    try:
        writer.offer(_samples(10))
        wait_for(lambda: writer.retries >= 2, 30, "retries on connection refused")
        assert writer.counts["sent"] == 0
        with Receiver(port=port) as receiver:
            wait_for(lambda: writer.counts["sent"] == 10, 30, "sent once the receiver is up")
            assert len(receiver.samples()) == 10
    finally:
        writer.stop()


def test_a_full_queue_drops_the_oldest_and_counts_them(receiver: Receiver) -> None:
    writer = RemoteWriter(RemoteWriteConfig(receiver.url, capacity=100, max_samples_per_send=40))
    offered = _samples(250)
    for i in range(0, 250, 25):
        writer.offer(offered[i : i + 25])  # never blocks: no sender is running yet
    writer.offer(_samples(300, start=1000))  # one offer larger than the whole queue
    assert writer.queued() == 100
    assert writer.counts["dropped"] == 250 + 300 - 100
    writer.start()
    wait_for(lambda: len(receiver.samples()) == 100, 30, "the newest 100")
    writer.stop()
    assert sorted(t for _, t, _ in receiver.samples()) == list(range(2200, 2300))


def test_stop_gives_up_after_the_flush_deadline() -> None:
    with Receiver(statuses=[500] * 1000) as receiver:
        writer = _writer(receiver.url, flush_deadline_s=0.3)
        writer.offer(_samples(10))
        wait_for(lambda: writer.retries >= 1, 30, "a retry")
        writer.offer(_samples(5, start=10))  # still queued behind the failing batch
        writer.stop()
    assert writer.counts["failed"] == 15
    assert writer.counts["sent"] == 0


def test_credentials_are_sent_but_never_shown(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    url = receiver.url.replace("http://", "http://alice:s%3Acret@")
    basic = RemoteWriteConfig(url, **FAST)  # type: ignore[arg-type]
    bearer = RemoteWriteConfig(receiver.url, bearer_token="tok-123", **FAST)  # type: ignore[arg-type]
    receiver.statuses = [401, 401]
    writers = [RemoteWriter(basic), RemoteWriter(bearer)]
    registry = CollectorRegistry()
    registry.register(RemoteWriteCollector(writers))
    with caplog.at_level(logging.DEBUG):  # httpx's and httpcore's own logs too
        for writer in writers:
            writer.start()
            writer.offer(_samples(3))
            wait_for(lambda w=writer: w.counts["rejected"] == 3, 30, "rejected with 401")  # type: ignore[misc]
            writer.stop()
    auth = [h["authorization"] for h, _ in receiver.requests]
    assert auth == [f"Basic {base64.b64encode(b'alice:s:cret').decode()}", "Bearer tok-123"]
    shown = caplog.text + repr(basic) + repr(bearer) + generate_latest(registry).decode()
    assert basic.name == receiver.url
    assert receiver.url in caplog.text
    assert "HTTP Request: POST" in caplog.text  # httpx logged the request: without them
    assert "cret" not in shown
    assert "tok-123" not in shown


@pytest.mark.parametrize(
    ("url", "options", "problem"),
    [
        ("ftp://127.0.0.1/x", {}, "expected http(s)://HOST"),
        ("http:///x", {}, "expected http(s)://HOST"),
        ("http://a:b@127.0.0.1/x", {"bearer_token": "t"}, "use one"),
        ("http://127.0.0.1/x", {"capacity": 10}, "capacity (10) must be at least"),
    ],
)
def test_bad_configs_say_what_to_fix(url: str, options: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match="remote write") as info:
        RemoteWriteConfig(url, **options)  # type: ignore[arg-type]
    assert problem in str(info.value)
    assert ":b@" not in str(info.value)


def test_the_tap_sends_only_committed_samples_the_store_accepted(
    tmp_path: Path, receiver: Receiver
) -> None:
    store = open_storage(tmp_path)
    writer = RemoteWriter(RemoteWriteConfig(receiver.url, **FAST))  # type: ignore[arg-type]
    tap = RemoteWriteAppendable(store, [writer])
    a, b = labels_from({"__name__": "a"}), labels_from({"__name__": "b"})
    try:
        assert tap.append(a, 2000, 1.0)
        assert tap.append(b, 2000, 2.0)
        assert writer.queued() == 0  # not before the commit
        tap.commit()
        assert writer.queued() == 2
        assert not tap.append(a, 1000, 9.0)  # out of order: the store rejects it
        assert not tap.append(b, 2000, 9.0)  # same time, other value: rejected too
        assert tap.append(a, 3000, 3.0)
        tap.commit()
        writer.start()
        wait_for(lambda: len(receiver.samples()) == 3, 30, "3 samples")
    finally:
        writer.stop()
        store.close()
    assert sorted(receiver.samples()) == [(a, 2000, 1.0), (a, 3000, 3.0), (b, 2000, 2.0)]


def test_metrics_pass_promtool_check_metrics() -> None:
    _, promtool = prometheus_binaries()
    writer = RemoteWriter(RemoteWriteConfig("http://127.0.0.1:9/api/v1/write"))
    registry = CollectorRegistry()
    registry.register(RemoteWriteCollector([writer]))
    text = generate_latest(registry).decode()
    assert 'watchkeeper_remote_write_samples_total{outcome="dropped"' in text
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout + result.stderr == ""  # not even a lint warning
