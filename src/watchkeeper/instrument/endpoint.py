"""The ``/metrics`` endpoint: auth, content negotiation, gzip, multiprocess merge.

Framework-neutral: ``respond()`` takes the three request headers it needs and
returns (status, headers, body); the ASGI and WSGI middlewares adapt it.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Callable
from dataclasses import dataclass

from watchkeeper.instrument.exposition import choose_format, encode_body, render
from watchkeeper.instrument.registry import MetricFamily, Registry

__all__ = ["MetricsAuth", "MetricsEndpoint"]


@dataclass(frozen=True, slots=True)
class MetricsAuth:
    """Bearer token and/or basic-auth credentials that a scraper must present."""

    bearer_token: str | None = None
    basic: tuple[str, str] | None = None

    def allows(self, authorization: str) -> bool:
        scheme, _, credentials = authorization.partition(" ")
        scheme = scheme.lower()
        if self.bearer_token is not None and scheme == "bearer":
            return hmac.compare_digest(credentials.strip().encode(), self.bearer_token.encode())
        if self.basic is not None and scheme == "basic":
            try:
                decoded = base64.b64decode(credentials.strip(), validate=True)
            except ValueError:
                return False
            expected = f"{self.basic[0]}:{self.basic[1]}".encode()
            return hmac.compare_digest(decoded, expected)
        return False

    @property
    def challenge(self) -> str:
        return 'Basic realm="metrics"' if self.basic is not None else 'Bearer realm="metrics"'


Headers = list[tuple[str, str]]


class MetricsEndpoint:
    def __init__(
        self,
        registry: Registry,
        auth: MetricsAuth | None = None,
        merged: Callable[[], list[MetricFamily] | None] | None = None,
    ) -> None:
        self.registry = registry
        self.auth = auth
        # In multiprocess mode: returns every worker's families merged (None = not active).
        self.merged = merged

    def respond(
        self, accept: str, accept_encoding: str, authorization: str
    ) -> tuple[int, Headers, bytes]:
        if self.auth is not None and not self.auth.allows(authorization):
            return (
                401,
                [
                    ("content-type", "text/plain; charset=utf-8"),
                    ("www-authenticate", self.auth.challenge),
                ],
                b"metrics require credentials: send the configured bearer token or basic auth\n",
            )
        content_type, openmetrics = choose_format(accept)
        families = self.merged() if self.merged is not None else None
        body, encoding = encode_body(
            render(self.registry, openmetrics, families=families), accept_encoding
        )
        headers = [("content-type", content_type), ("vary", "Accept, Accept-Encoding")]
        if encoding:
            headers.append(("content-encoding", encoding))
        headers.append(("content-length", str(len(body))))
        return 200, headers, body
