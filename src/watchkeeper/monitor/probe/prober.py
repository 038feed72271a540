"""One probe's state between runs: observe, judge the conditions, append the series.

The series are blackbox_exporter's, so rules written for Prometheus + blackbox_exporter
(``probe_success == 0``, ``probe_ssl_earliest_cert_expiry - time() < 86400 * 14``) run
unchanged here:

- ``probe_success``: 1 when connected and every condition held, else 0;
- ``probe_duration_seconds``: how long the probe took;
- ``probe_http_status_code``: the final response's status (0 when none arrived), http only;
- ``probe_ssl_earliest_cert_expiry``: the peer certificate's notAfter (Unix seconds), only
  when a TLS handshake completed; it goes stale (like any vanished series) otherwise.

Appends and the commit happen under the store's writer lock (the one the scrape manager
holds for its batches), in a worker thread when ``offload``, so a slow commit never
stalls the event loop and probes never interleave with a scrape's batch.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

import httpx

from watchkeeper.monitor.model import STALE_NAN, Appendable, Labels, labels_from
from watchkeeper.monitor.probe.certs import tls_context
from watchkeeper.monitor.probe.config import ProbeConfig, ProbeStatus
from watchkeeper.monitor.probe.evaluate import Observation, evaluate_all
from watchkeeper.monitor.probe.observe import http_client, observe

__all__ = ["Prober"]

logger = logging.getLogger("watchkeeper.monitor.probe")
Clock = Callable[[], float]


class Prober:
    def __init__(
        self,
        appendable: Appendable,
        config: ProbeConfig,
        *,
        clock: Clock = time.time,
        writer_lock: threading.RLock | None = None,
        offload: bool = False,
    ) -> None:
        self.appendable = appendable
        self.clock = clock
        self._writer_lock = writer_lock if writer_lock is not None else threading.RLock()
        self._offload = offload
        self._previous: dict[str, Labels] = {}
        self._client: httpx.AsyncClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self.configure(config)
        self.status = ProbeStatus(
            config.job,
            config.instance,
            config.url,
            "unknown",
            None,
            0.0,
            "",
            config.target_labels(),
            config.interval_s,
            config.timeout_s,
            config.module,
        )

    def configure(self, config: ProbeConfig) -> None:
        """Apply a changed config; new target labels mean new series, so the old go stale."""
        old: ProbeConfig | None = getattr(self, "config", None)
        with self._writer_lock:
            if old is not None and old.target_labels() != config.target_labels():
                self.mark_stale(int(self.clock() * 1000))
            self.config = config
            self._base = config.target_labels()
        self._context = tls_context(
            ca_file=config.ca_file, insecure_skip_verify=config.insecure_skip_verify
        )
        # Built with the old TLS settings: drop it (without keep-alive it holds no connection).
        self._client = None

    def _http(self) -> httpx.AsyncClient | None:
        """This probe's client, made for the running event loop (clients are loop-bound)."""
        if self.config.module != "http":
            return None
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            self._client, self._client_loop = http_client(self._context), loop
        return self._client

    async def aclose(self) -> None:
        """Close the client (the probe was removed or the monitor is stopping)."""
        client, self._client = self._client, None
        if client is not None and self._client_loop is asyncio.get_running_loop():
            await client.aclose()

    def _labels(self, name: str) -> Labels:
        return labels_from({**self._base, "__name__": name})

    async def probe(self) -> ProbeStatus:
        """Run the probe once, append its series, and return (and keep) its status."""
        cfg = self.config
        obs = await observe(cfg, self._context, self.clock, self._http())
        results = tuple(evaluate_all(cfg.parsed, obs))
        failed = [r.detail for r in results if not r.success]
        success = not obs.error and not failed
        error = obs.error or ("failed: " + "; ".join(failed) if failed else "")
        samples = self._samples(obs, success)
        ts_ms = int(obs.now * 1000)

        def ingest() -> None:
            with self._writer_lock:
                self._append(samples, ts_ms)

        if self._offload:
            await asyncio.to_thread(ingest)
        else:
            ingest()
        previous = self.status
        self.status = ProbeStatus(
            cfg.job,
            cfg.instance,
            cfg.url,
            "up" if success else "down",
            obs.now,
            obs.response_time_ms / 1000,
            error,
            cfg.target_labels(),
            cfg.interval_s,
            cfg.timeout_s,
            cfg.module,
            results,
            obs.status,
            obs.cert_not_after,
        )
        self._log_change(previous, self.status)
        return self.status

    def _samples(self, obs: Observation, success: bool) -> dict[str, float]:
        samples = {
            "probe_success": 1.0 if success else 0.0,
            "probe_duration_seconds": obs.response_time_ms / 1000,
        }
        if self.config.module == "http":
            samples["probe_http_status_code"] = float(obs.status or 0)
        if obs.cert_not_after is not None:
            samples["probe_ssl_earliest_cert_expiry"] = obs.cert_not_after
        return samples

    def _append(self, samples: dict[str, float], ts_ms: int) -> None:
        current = {name: self._labels(name) for name in samples}
        for name, value in samples.items():
            self.appendable.append(current[name], ts_ms, value)
        for name, labels in self._previous.items():
            if name not in current:  # e.g. the certificate series when TLS failed
                self.appendable.append(labels, ts_ms, STALE_NAN)
        self._previous = current
        self.appendable.commit()

    def mark_stale(self, ts_ms: int) -> None:
        """Stale markers for every series of the last run (the probe was removed)."""
        with self._writer_lock:
            for labels in self._previous.values():
                self.appendable.append(labels, ts_ms, STALE_NAN)
            self._previous = {}
            self.appendable.commit()

    def _log_change(self, previous: ProbeStatus, current: ProbeStatus) -> None:
        """Log the first result and every change, not every failing run (that would flood)."""
        if _failing(previous) == _failing(current):
            return
        cfg = self.config
        if current.health == "up":
            logger.info("probe %s (job %s) succeeded", cfg.url, cfg.job)
        else:
            logger.warning("probe %s (job %s) %s", cfg.url, cfg.job, current.last_error)


def _failing(status: ProbeStatus) -> tuple[str, tuple[str, ...]]:
    """What makes two results "the same" for logging: values (a latency) may differ."""
    return status.health, tuple(c.condition for c in status.conditions if not c.success)
