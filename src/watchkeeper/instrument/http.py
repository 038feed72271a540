"""The HTTP server metric set and its one-lock recording step, shared by ASGI and WSGI."""

from __future__ import annotations

import os
import threading
import time
import weakref
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Callable, Sequence

from watchkeeper.instrument._semconv import (
    DURATION_BUCKETS,
    HTTP_LABELS,
    SIZE_BUCKETS,
    STREAM_BUCKETS,
)
from watchkeeper.instrument.metrics import UPDATE_LOCK, HistogramChild
from watchkeeper.instrument.registry import Registry

__all__ = ["VALUES", "HTTPMetrics", "Key", "Pending"]

# method, route, status, error_type: one label set of the three request histograms
Key = tuple[str, str, int, str]
# A request's values in its key's list, flat: duration, request bytes, response bytes.
# Flat, not a tuple per request: a kept tuple is a garbage-collected object (young
# collections ran ~16x as often) and 64 more bytes touched between two folds; three
# values added by one ``+=`` (a C list extend, atomic under the GIL) are neither.
VALUES = 3
# the key and the request's values in one tuple: a request past the label budget
Pending = tuple[str, str, int, str, float, int, int]

_STATUS = {code: str(code) for code in range(100, 600)}
WAKE_FOLDER_AT = 256  # requests waiting (in one key's list) that start the background folder
FOLD_INTERVAL_S = 0.25
# Pending observations folded inline if the folder cannot keep up: checked when one
# key's list passes it, against all of them (waiting()). The folder runs every
# FOLD_INTERVAL_S and the GIL hands it a turn within milliseconds, so lists that long
# mean a stalled process, not a busy one.
FOLD_AT = 10_000
# The two as lengths of a key's list (what a request compares, without a multiply).
WAKE_FOLDER_LEN = WAKE_FOLDER_AT * VALUES
FOLD_LEN = FOLD_AT * VALUES


def _call_if_alive(method: weakref.WeakMethod[Callable[[], None]]) -> None:
    bound = method()
    if bound is not None:
        bound()


class HTTPMetrics:
    """``http_server_*`` families of one registry (created once, shared by every app)."""

    def __init__(self, registry: Registry, duration_buckets: Sequence[float] = DURATION_BUCKETS):
        self.duration = registry.histogram(
            "http_server_request_duration_seconds",
            "Duration of HTTP server requests, until the last body byte was sent.",
            HTTP_LABELS,
            buckets=duration_buckets,
        )
        self.request_size = registry.histogram(
            "http_server_request_body_size_bytes",
            "Size of HTTP request bodies as received (chunked bodies included).",
            HTTP_LABELS,
            buckets=SIZE_BUCKETS,
        )
        self.response_size = registry.histogram(
            "http_server_response_body_size_bytes",
            "Size of HTTP response bodies as sent (chunked and streamed bodies included).",
            HTTP_LABELS,
            buckets=SIZE_BUCKETS,
        )
        self.active = registry.gauge(
            "http_server_active_requests",
            "Number of HTTP server requests in flight.",
            ["http_request_method"],
        )
        self.stream_duration = registry.histogram(
            "http_server_stream_duration_seconds",
            "Full duration of streaming responses (server-sent events, NDJSON), which are "
            "kept out of the request-duration histogram.",
            ["http_request_method", "http_route"],
            buckets=STREAM_BUCKETS,
        )

        self.registry = registry
        self._folder_pid = 0
        # The length of its key's list at which a request calls backlog(): low until
        # the background folder runs, then only the inline-fold backstop (the folder
        # keeps up; a request must not pay a call and a getpid() each time).
        self.wake_at = WAKE_FOLDER_LEN
        if hasattr(os, "register_at_fork"):  # a forked worker starts without the folder
            forked = weakref.WeakMethod(self._forked)  # the hook must not keep us alive
            os.register_at_fork(after_in_child=lambda: _call_if_alive(forked))
        # Each label set's requests not folded yet, in the order they finished: the
        # request adds its VALUES (one atomic extend), the fold takes them in bulk. Keys
        # are added while the label budget lasts (the children are cached with them).
        self.observed: dict[Key, list[float]] = {}
        # Requests past the label budget, whole: folded one by one, so the overflow
        # series counts each of them as dropped.
        self.pending: deque[Pending] = deque()
        # (key, duration, exemplar label pairs, unix time): only requests that ran
        # inside a sampled span append here; folded with the observations.
        self.exemplars: deque[tuple[Key, float, str, float]] = deque()
        self._inflight: dict[str, list[None]] = {}
        registry.add_pre_collect(self.fold)
        self._by_key: dict[
            tuple[str, str, int, str], tuple[HistogramChild, HistogramChild, HistogramChild]
        ] = {}

    @classmethod
    def of(cls, registry: Registry) -> HTTPMetrics:
        """The one HTTPMetrics of ``registry`` (every app instrumented into it shares it)."""
        existing = registry.extensions.get("http")
        if isinstance(existing, HTTPMetrics):
            return existing
        created = registry.extensions["http"] = cls(registry)
        return created

    def inflight(self, method: str) -> list[None]:
        """The in-flight list for ``method``: append at start, pop at the end.

        list.append and list.pop are atomic, so ASGI loops and WSGI threads update it
        without a lock; its length is the gauge's value at the next fold.
        """
        found = self._inflight.get(method)
        if found is None:
            found = self._inflight.setdefault(method, [])
        return found

    def observations(self, key: Key) -> list[float] | None:
        """The list that requests of ``key`` add their duration, request bytes and
        response bytes to (``VALUES`` per request, in one ``+=``), made on the key's
        first request; None once the label budget is spent (such requests go to
        ``pending`` whole)."""
        found = self.observed.get(key)
        if found is None:
            with UPDATE_LOCK:
                found = self.observed.get(key)
                if found is None:
                    if len(self._by_key) >= self.duration.limit:
                        return None
                    self._children_for(key)  # cached (under the budget) with the list
                    found = self.observed[key] = []
        return found

    def record(
        self,
        method: str,
        route: str,
        status: int,
        error_type: str,
        duration: float,
        request_bytes: int,
        response_bytes: int,
        exemplar: str | None = None,
    ) -> None:
        """One finished request. Deferred: appended now (atomic, ~0.1 µs), folded into
        the histograms before the next render or snapshot. ``exemplar``: rendered
        label pairs (``trace_id="…",span_id="…"``) for the duration bucket."""
        key = (method, route, status, error_type)
        found = self.observed.get(key)
        if found is None:
            found = self.observations(key)
        if found is not None:
            found += (duration, request_bytes, response_bytes)
            waiting = len(found)
        else:
            self.pending.append((*key, duration, request_bytes, response_bytes))
            waiting = len(self.pending) * VALUES
        if exemplar is not None:
            self.exemplars.append((key, duration, exemplar, time.time()))
        if waiting > self.wake_at:
            self.backlog()

    def add_exemplar(self, key: Key, duration: float, exemplar: str) -> None:
        """Attach an exemplar to an observation already appended for ``key``."""
        self.exemplars.append((key, duration, exemplar, time.time()))

    def waiting(self) -> int:
        """Observations not folded yet."""
        lists = list(self.observed.values())  # a copy: requests may add keys meanwhile
        return len(self.pending) + sum(map(len, lists)) // VALUES

    def backlog(self) -> None:
        # Rare path: observations pile up between scrapes. A background thread folds
        # them every FOLD_INTERVAL_S, so no request pays for a big fold (10k pending
        # hold the GIL for milliseconds); inline folding is only the backstop that
        # bounds memory.
        if self._folder_pid != os.getpid():  # none yet, or we are a forked child
            self._folder_pid = os.getpid()
            threading.Thread(target=self._fold_loop, name="watchkeeper-fold", daemon=True).start()
            self.wake_at = FOLD_LEN
        if self.waiting() > FOLD_AT:
            self.fold()

    def _forked(self) -> None:
        self.wake_at = WAKE_FOLDER_LEN

    def _fold_loop(self) -> None:
        me = os.getpid()
        while self._folder_pid == me:
            time.sleep(FOLD_INTERVAL_S)
            try:
                self.fold()
            except Exception:  # pragma: no cover - contained like every SDK fault
                self.registry.internal_errors.labels("http.fold").inc()

    def fold(self) -> None:
        """Move pending observations into the histograms and refresh in-flight counts."""
        by_key = self._by_key
        # Counted before the observations are folded: each of these exemplars had
        # its observation appended first, so no bucket shows an exemplar ahead of
        # its count.
        exemplars = self.exemplars
        n_exemplars = len(exemplars)
        with UPDATE_LOCK:
            for key, found in list(self.observed.items()):
                n = len(found)
                if n:
                    # Taken in two atomic steps: a request adding meanwhile lands after
                    # the first n and waits for the next fold. n is a whole number of
                    # requests: each adds its VALUES in one atomic extend.
                    batch = found[:n]
                    del found[:n]
                    _fold_batch(by_key[key], batch)
            pending = self.pending
            popleft, get, bisect = pending.popleft, by_key.get, bisect_left
            for _ in range(len(pending)):
                # popleft is atomic: an append racing with the fold is kept for the next one
                method, route, status, error_type, duration, received, sent = popleft()
                children = get((method, route, status, error_type))
                if children is None:
                    children = self._children_for((method, route, status, error_type))
                d, q, r = children
                d.counts[bisect(d.bounds, duration)] += 1
                d.sum += duration
                q.counts[bisect(q.bounds, received)] += 1
                q.sum += received
                r.counts[bisect(r.bounds, sent)] += 1
                r.sum += sent
            for _ in range(n_exemplars):
                key, duration, labels, timestamp = exemplars.popleft()
                children = by_key.get(key)
                if children is None:
                    children = self._children_for(key)
                d = children[0]
                d.set_exemplar(bisect_left(d.bounds, duration), labels, duration, timestamp)
            for method, inflight in list(self._inflight.items()):
                self.active.labels(method).value = len(inflight)

    def _children_for(
        self, key: tuple[str, str, int, str]
    ) -> tuple[HistogramChild, HistogramChild, HistogramChild]:
        # The three histograms share label sets: resolve them once per key. The
        # cache is bounded by the families' own cardinality budgets (overflowed keys
        # resolve to the shared overflow children; the cache stops growing there).
        method, route, status, error_type = key
        labels = (method, route, _STATUS.get(status) or str(status), error_type)
        children = (
            self.duration.labels(*labels),
            self.request_size.labels(*labels),
            self.response_size.labels(*labels),
        )
        if len(self._by_key) < self.duration.limit:
            self._by_key[key] = children
        return children

    def record_stream(self, method: str, route: str, duration: float) -> None:
        self.stream_duration.labels(method, route).observe(duration)


def _fold_batch(
    children: tuple[HistogramChild, HistogramChild, HistogramChild], batch: list[float]
) -> None:
    """Count one key's observations in bulk (call under UPDATE_LOCK).

    Sorted, a batch's values fall into their buckets in runs: one bucket search per
    run, not per value, and the sorting, summing and counting run in C. A busy key
    folds for about a fifth of what a Python step per observation costs. Sums are
    taken in the order the requests finished, as one-by-one adding would.
    """
    d, q, r = children
    durations, received, sent = batch[0::VALUES], batch[1::VALUES], batch[2::VALUES]
    _count_sorted(d, sorted(durations))
    d.sum = sum(durations, d.sum)
    empty = received.count(0)
    if empty == len(received):  # no request bodies (most requests): the first bucket
        q.counts[0] += empty
    else:
        _count_sorted(q, sorted(received))
        q.sum = sum(received, q.sum)
    _count_sorted(r, sorted(sent))
    r.sum = sum(sent, r.sum)


def _count_sorted(child: HistogramChild, values: list[float] | list[int]) -> None:
    """Add ascending ``values`` to ``child``'s bucket counts."""
    bounds, counts = child.bounds, child.counts
    n, last, j = len(values), len(bounds), 0
    while j < n:
        i = bisect_left(bounds, values[j])  # the bucket of the smallest value left
        if i == last:  # above every bound: +Inf takes the rest
            counts[i] += n - j
            return
        k = bisect_right(values, bounds[i], j)  # every value up to that bound
        counts[i] += k - j
        j = k
