"""One remote write endpoint: a bounded in-memory queue and the thread that sends it.

The write path (scrapes, probes, rule evaluations) only ever ``offer``s committed
samples: a lock, a deque extend, a notify — it never waits for the network. When the
receiver is slower than the write path, or down, the queue keeps the newest
``capacity`` samples and counts the oldest it drops (``outcome="dropped"``).

The sender takes up to ``max_samples_per_send`` samples once that many are queued or
the oldest has waited ``batch_send_deadline_s``, groups them by series, and POSTs one
``WriteRequest``. As the spec asks: 5xx, 429 and network errors are retried with
exponential backoff (``min_backoff_s`` doubling to ``max_backoff_s``; a 429's or 503's
Retry-After is honoured up to that cap) until they succeed or shutdown's flush
deadline passes (``failed``); any other 4xx means the receiver will never accept this
batch, so it is counted (``rejected``) and not retried.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

import httpx

from watchkeeper._version import __version__
from watchkeeper.monitor.model import Labels
from watchkeeper.monitor.remote_write.config import RemoteWriteConfig
from watchkeeper.monitor.remote_write.wire import (
    HEADERS,
    LabelCache,
    compress,
    encode_write_request,
)

__all__ = ["OUTCOMES", "RemoteWriter", "Sample"]

log = logging.getLogger("watchkeeper.monitor.remote_write")

Sample = tuple[Labels, int, float]
# sent: accepted (2xx); rejected: a 4xx other than 429, not retried; dropped: pushed out
# of a full queue; failed: still unsent (or being retried) when shutdown's flush deadline passed.
OUTCOMES = ("sent", "rejected", "dropped", "failed")


class RemoteWriter:
    """Queue and sender of one endpoint; ``start()`` its thread, ``stop()`` flushes it."""

    def __init__(
        self,
        config: RemoteWriteConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._clock = clock
        self._queue: deque[Sample] = deque()
        self._cond = threading.Condition()
        self._oldest_at = 0.0  # when the oldest queued sample was offered
        self._stopping = False
        self._flush_until = float("inf")
        self._sleep = threading.Event()  # never set: an interruptible-looking sleep
        self._thread: threading.Thread | None = None
        self._labels = LabelCache()
        self.counts = dict.fromkeys(OUTCOMES, 0)
        self.retries = 0
        self.requests = 0
        self.bytes_sent = 0
        self.last_sent_timestamp_ms = 0
        self._failing = False
        headers = {**HEADERS, "User-Agent": f"watchkeeper/{__version__}"}
        if config.bearer_token:
            headers["Authorization"] = f"Bearer {config.bearer_token}"
        self._client = httpx.Client(
            headers=headers,
            auth=config.basic_auth,
            timeout=config.timeout_s,
            transport=transport,
            follow_redirects=False,
        )

    # -- the write path's side ----------------------------------------------------

    def offer(self, samples: Sequence[Sample]) -> None:
        """Queue ``samples`` (never blocks on the network); the oldest go when full."""
        if not samples:
            return
        with self._cond:
            queue, capacity = self._queue, self.config.capacity
            was_empty = not queue
            if was_empty:
                self._oldest_at = self._clock()
            if len(samples) >= capacity:
                self.counts["dropped"] += len(queue) + len(samples) - capacity
                queue.clear()
                queue.extend(samples[len(samples) - capacity :])
            else:
                overflow = len(queue) + len(samples) - capacity
                for _ in range(max(overflow, 0)):
                    queue.popleft()
                self.counts["dropped"] += max(overflow, 0)
                queue.extend(samples)
            # The sender waits for the first sample (then times the batch deadline) or a
            # full batch; in between it has nothing to learn from a notify.
            if was_empty or len(queue) >= self.config.max_samples_per_send:
                self._cond.notify()

    def queued(self) -> int:
        return len(self._queue)

    # -- lifetime -----------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"watchkeeper-remote-write {self.config.name}", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Send what is queued for up to ``flush_deadline_s``, then stop (idempotent)."""
        with self._cond:
            if not self._stopping:
                self._stopping = True
                self._flush_until = self._clock() + self.config.flush_deadline_s
            self._cond.notify()
        if self._thread is not None:
            # The flush deadline bounds the sender; a request in flight may add its timeout.
            self._thread.join(self.config.flush_deadline_s + self.config.timeout_s + 1)
        with self._cond:
            self.counts["failed"] += len(self._queue)
            self._queue.clear()
        self._client.close()

    # -- the sender thread --------------------------------------------------------

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            try:
                self._send(batch)
            except Exception:  # a bug here must not silently end remote write
                log.exception("remote write to %s: sending a batch failed", self.config.name)
                self.counts["failed"] += len(batch)

    def _next_batch(self) -> list[Sample] | None:
        """Wait until a batch is due: full, or its oldest sample waited the deadline, or
        shutdown. None: stopped (queue drained or flush deadline passed)."""
        cfg = self.config
        with self._cond:
            while True:
                if self._stopping and (not self._queue or self._clock() >= self._flush_until):
                    return None
                if self._queue and (
                    self._stopping
                    or len(self._queue) >= cfg.max_samples_per_send
                    or self._clock() - self._oldest_at >= cfg.batch_send_deadline_s
                ):
                    break
                wait = None
                if self._queue:
                    wait = self._oldest_at + cfg.batch_send_deadline_s - self._clock()
                self._cond.wait(wait)
            queue = self._queue
            n = min(len(queue), cfg.max_samples_per_send)
            batch = [queue.popleft() for _ in range(n)]
            self._oldest_at = self._clock()  # the rest waited too, but restart the deadline
            return batch

    def _send(self, batch: list[Sample]) -> None:
        by_series: dict[Labels, list[tuple[int, float]]] = {}
        for labels, ts, value in batch:
            by_series.setdefault(labels, []).append((ts, value))
        body = compress(encode_write_request(by_series.items(), self._labels))
        newest = max(ts for _, ts, _ in batch)
        backoff = self.config.min_backoff_s
        while True:
            retry_after: float | None = None
            try:
                # The URL without user:password (those go in ``auth``), so that no
                # log line or exception of httpx's can carry them.
                response = self._client.post(self.config.name, content=body)
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                self.requests += 1
                status = response.status_code
                if 200 <= status < 300:
                    self._sent(len(batch), len(body), newest)
                    return
                text = response.text[:300].strip()
                if 400 <= status < 500 and status != 429:
                    self.counts["rejected"] += len(batch)
                    log.warning(
                        "remote write to %s: %d samples rejected with HTTP %d (not retried, the "
                        "receiver would reject them again): %s",
                        self.config.name,
                        len(batch),
                        status,
                        text,
                    )
                    return
                problem = f"HTTP {status}: {text}"
                retry_after = _retry_after(response)
            if self._clock() >= self._flush_until:
                self.counts["failed"] += len(batch)
                log.warning(
                    "remote write to %s: giving up on %d samples at shutdown (%s)",
                    self.config.name,
                    len(batch),
                    problem,
                )
                return
            if not self._failing:
                self._failing = True
                log.warning(
                    "remote write to %s failed (%s); retrying with backoff up to %gs, "
                    "queueing up to %d samples meanwhile",
                    self.config.name,
                    problem,
                    self.config.max_backoff_s,
                    self.config.capacity,
                )
            self.retries += 1
            delay = backoff if retry_after is None else retry_after
            # At shutdown the flush deadline bounds the wait too.
            until_deadline = max(self._flush_until - self._clock(), 0.0)
            self._sleep.wait(min(delay, self.config.max_backoff_s, until_deadline))
            backoff = min(backoff * 2, self.config.max_backoff_s)

    def _sent(self, n: int, nbytes: int, newest_ms: int) -> None:
        self.counts["sent"] += n
        self.bytes_sent += nbytes
        self.last_sent_timestamp_ms = max(self.last_sent_timestamp_ms, newest_ms)
        if self._failing:
            self._failing = False
            log.warning("remote write to %s: sending again", self.config.name)


def _retry_after(response: httpx.Response) -> float | None:
    """Retry-After in seconds (the delta form) on a 429 or 503."""
    if response.status_code not in (429, 503):
        return None
    value = response.headers.get("retry-after", "")
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None
