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
    """A PromQL query could not be parsed or evaluated."""


class StorageError(WatchkeeperError):
    """The embedded time-series store could not read or write its data directory."""
