"""watchkeeper: production monitoring for Python services.

    import watchkeeper
    app = watchkeeper.instrument(app, service="shop")

The public API is deliberately small; everything here is stable.
"""

from __future__ import annotations

from watchkeeper._version import __version__
from watchkeeper.errors import (
    ConfigurationError,
    QueryError,
    SpecError,
    StorageError,
    WatchkeeperError,
)
from watchkeeper.instrument import REGISTRY, Registry, cache, measured, queues
from watchkeeper.instrument.api import instrument
from watchkeeper.profiling import profile
from watchkeeper.instrument.db import instrument_sqlalchemy, uninstrument_sqlalchemy

__all__ = [
    "REGISTRY",
    "ConfigurationError",
    "QueryError",
    "Registry",
    "SpecError",
    "StorageError",
    "WatchkeeperError",
    "__version__",
    "cache",
    "instrument",
    "instrument_sqlalchemy",
    "measured",
    "profile",
    "queues",
    "uninstrument_sqlalchemy",
]
