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
from watchkeeper.instrument import REGISTRY, Registry, measured
from watchkeeper.instrument.api import instrument

__all__ = [
    "REGISTRY",
    "ConfigurationError",
    "QueryError",
    "Registry",
    "SpecError",
    "StorageError",
    "WatchkeeperError",
    "__version__",
    "instrument",
    "measured",
]
