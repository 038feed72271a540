"""The HTTP part of a scrape: one GET with a body-size limit, gzip handled by httpx."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

__all__ = ["ScrapeError", "fetch"]


class ScrapeError(Exception):
    """A scrape failed; the message is shown as the target's last error."""


async def fetch(
    client: httpx.AsyncClient,
    url: str,
    headers: Mapping[str, str],
    timeout_s: float,
    body_limit_bytes: int,
) -> tuple[str, str]:
    """(decoded body text, content type). The limit applies to the uncompressed body."""
    try:
        async with client.stream("GET", url, headers=headers, timeout=timeout_s) as response:
            if response.status_code != 200:
                reason = response.reason_phrase
                raise ScrapeError(f"server returned HTTP status {response.status_code} {reason}")
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if body_limit_bytes and size > body_limit_bytes:
                    msg = f"body size limit exceeded: more than {body_limit_bytes} bytes"
                    raise ScrapeError(f"{msg} (body_limit_bytes); raise it or expose fewer metrics")
                chunks.append(chunk)
            content_type = response.headers.get("content-type", "")
    except httpx.TimeoutException:
        raise ScrapeError(f"scrape timed out after {timeout_s:g}s (timeout_s)") from None
    except httpx.HTTPError as exc:
        raise ScrapeError(f"{type(exc).__name__}: {exc or 'request failed'}") from None
    body = b"".join(chunks)
    try:
        return body.decode("utf-8"), content_type
    except UnicodeDecodeError as exc:
        raise ScrapeError(f"body is not valid UTF-8 at byte {exc.start}") from None
