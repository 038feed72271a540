"""Running one probe against its target: what the http and tcp modules observe.

Like blackbox_exporter, every probe opens a fresh connection (no keep-alive), so a
server that stopped accepting connections, or a certificate that was just rotated, is
seen at the next probe rather than hidden behind a pooled connection. (A client may
still be reused between probes: without keep-alive it holds no connection, and not
building one per probe saves a little CPU, 4.82 -> 4.62 ms per probe in
benchmarks/bench_probe.py.) The whole probe, body included, is bounded by ``timeout_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Callable

import httpx

from watchkeeper.monitor.probe.certs import peer_not_after
from watchkeeper.monitor.probe.config import ProbeConfig
from watchkeeper.monitor.probe.evaluate import Observation

__all__ = ["http_client", "observe", "observe_http", "observe_tcp"]

Clock = Callable[[], float]
_NO_KEEPALIVE = httpx.Limits(max_keepalive_connections=0)


class _BodyTooLarge(Exception):
    pass


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def http_client(context: ssl.SSLContext) -> httpx.AsyncClient:
    """A client for http probes: follows redirects (as blackbox_exporter), no keep-alive."""
    return httpx.AsyncClient(verify=context, follow_redirects=True, limits=_NO_KEEPALIVE)


async def observe_http(
    config: ProbeConfig,
    context: ssl.SSLContext,
    clock: Clock,
    client: httpx.AsyncClient | None = None,
) -> Observation:
    """One request; ``status``/``body``/``cert_not_after`` are whatever arrived in time.

    ``client`` (from :func:`http_client` with the same ``context``) is reused when given;
    otherwise one is made and closed for this probe."""
    now, started = clock(), time.perf_counter()
    own = client is None
    client = http_client(context) if client is None else client
    status: int | None = None
    body: bytes | None = None
    cert: float | None = None
    error = ""
    headers = {"User-Agent": "watchkeeper-probe", **config.headers}
    try:
        async with (
            asyncio.timeout(config.timeout_s),
            client.stream(
                config.method, config.target, headers=headers, timeout=config.timeout_s
            ) as response,
        ):
            status = response.status_code
            stream = response.extensions.get("network_stream")
            if stream is not None and response.url.scheme == "https":  # after redirects
                cert = peer_not_after(stream.get_extra_info("ssl_object"))
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > config.body_limit_bytes:
                    raise _BodyTooLarge
                chunks.append(chunk)
            body = b"".join(chunks)
    except (TimeoutError, httpx.TimeoutException):
        error = f"timed out after {config.timeout_s:g}s"
    except _BodyTooLarge:
        error = f"body larger than {config.body_limit_bytes} bytes (body_limit_bytes)"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {_describe(exc)}"
    except Exception as exc:  # anything else (a malformed answer) is a failed probe, not a gap
        error = f"{type(exc).__name__}: {_describe(exc)}"
    finally:
        if own:
            await client.aclose()
    elapsed_ms = (time.perf_counter() - started) * 1000
    return Observation(
        connected=status is not None,
        response_time_ms=elapsed_ms,
        now=now,
        status=status,
        body=body,
        cert_not_after=cert,
        error=error,
    )


async def observe_tcp(config: ProbeConfig, context: ssl.SSLContext, clock: Clock) -> Observation:
    """A connect (and a TLS handshake when ``tls``); nothing is sent."""
    now, started = clock(), time.perf_counter()
    host, _, port = config.target.rpartition(":")
    host = host.strip("[]")
    cert: float | None = None
    error = ""
    connected = False
    try:
        async with asyncio.timeout(config.timeout_s):
            _, writer = await asyncio.open_connection(
                host,
                int(port),
                ssl=context if config.tls else None,
                server_hostname=host if config.tls else None,
            )
            connected = True
            try:
                if config.tls:
                    cert = peer_not_after(writer.get_extra_info("ssl_object"))
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
    except TimeoutError:
        error = f"timed out after {config.timeout_s:g}s"
    except Exception as exc:  # refused, unreachable, DNS, ssl.SSLError, ...
        error = f"{type(exc).__name__}: {_describe(exc)}"
    elapsed_ms = (time.perf_counter() - started) * 1000
    return Observation(
        connected=connected and not error,
        response_time_ms=elapsed_ms,
        now=now,
        cert_not_after=cert,
        error=error,
    )


async def observe(
    config: ProbeConfig,
    context: ssl.SSLContext,
    clock: Clock,
    client: httpx.AsyncClient | None = None,
) -> Observation:
    if config.module == "tcp":
        return await observe_tcp(config, context, clock)
    return await observe_http(config, context, clock, client)
