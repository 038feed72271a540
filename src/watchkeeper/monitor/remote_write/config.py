"""What one remote write endpoint is: its URL, credentials and queue settings."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

__all__ = ["RemoteWriteConfig", "redact_url"]


def redact_url(url: str) -> str:
    """``url`` without its user:password part: what logs and metric labels show."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


@dataclass(frozen=True, repr=False)
class RemoteWriteConfig:
    """One receiver (Prometheus with --web.enable-remote-write-receiver, VictoriaMetrics,
    Mimir, Thanos Receive, ...). Defaults are Prometheus' ``queue_config`` ones, with
    one queue instead of shards (an embedded monitor sends far fewer samples).

    Basic auth comes from the URL's ``user:password@`` (never shown: ``name`` is the URL
    without it); ``bearer_token`` is sent as ``Authorization: Bearer``."""

    url: str
    bearer_token: str | None = None
    # Samples held in memory while the receiver is slow or down; beyond it the oldest go.
    capacity: int = 100_000
    max_samples_per_send: int = 2_000
    batch_send_deadline_s: float = 5.0
    min_backoff_s: float = 0.03
    max_backoff_s: float = 5.0
    timeout_s: float = 30.0
    # On shutdown: how long to keep sending (and retrying) what is queued.
    flush_deadline_s: float = 10.0

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"remote write URL {redact_url(self.url)!r}: expected http(s)://HOST[:PORT]/PATH, "
                "e.g. http://127.0.0.1:9090/api/v1/write"
            )
        if self.bearer_token and parts.password is not None:
            raise ValueError(
                f"remote write URL {self.name!r}: both basic auth (user:password@ in the URL) "
                "and a bearer token given; use one"
            )
        if self.capacity < self.max_samples_per_send or self.max_samples_per_send < 1:
            raise ValueError(
                f"remote write {self.name!r}: capacity ({self.capacity}) must be at least "
                f"max_samples_per_send ({self.max_samples_per_send}), which must be positive"
            )

    def __repr__(self) -> str:  # the dataclass one would show the URL's password
        return (
            f"RemoteWriteConfig({self.name!r}, bearer_token={'***' if self.bearer_token else None})"
        )

    @property
    def name(self) -> str:
        """The URL without credentials (the ``url`` label of the remote write metrics)."""
        return redact_url(self.url)

    @property
    def basic_auth(self) -> tuple[str, str] | None:
        parts = urlsplit(self.url)
        if parts.username is None:
            return None
        return unquote(parts.username), unquote(parts.password or "")
