"""The exception hierarchy users can catch.

Every message says what was wrong, where, and how to fix it: build the message,
then raise. The SDK (``instrument``, ``health``, ``logs``, ``tracing``) never lets
these escape into a host application's request path; they are raised only from
configuration calls made at start-up, where failing loudly is the kind thing.
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "QueryError",
    "SpecError",
    "StorageError",
    "WatchkeeperError",
]


class WatchkeeperError(Exception):
    """Base class of every error watchkeeper raises on purpose."""


class ConfigurationError(WatchkeeperError, ValueError):
    """A call to the SDK was given an option it cannot honour (raised at set-up time)."""


class SpecError(WatchkeeperError):
    """The service spec (watchkeeper.yaml) is invalid; the message is located (file:line)."""


class QueryError(WatchkeeperError):
    """A PromQL query could not be parsed or evaluated.

    ``kind`` is Prometheus' API error type: ``bad_data`` (parse or type errors),
    ``execution`` (evaluation failed, e.g. too many samples), ``timeout``, ``canceled``.
    """

    def __init__(self, message: str, kind: str = "bad_data") -> None:
        super().__init__(message)
        self.kind = kind


class StorageError(WatchkeeperError):
    """The embedded time-series store could not read or write its data directory."""
