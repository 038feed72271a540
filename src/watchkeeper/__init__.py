"""watchkeeper: production monitoring for Python services.

    import watchkeeper
    app = watchkeeper.instrument(app, service="shop")

The public API is deliberately small; everything here is stable.
"""

from __future__ import annotations

from watchkeeper import logs  # a module: watchkeeper.logs.configure(), .bind(), ...
from watchkeeper._version import __version__
from watchkeeper.errors import (
    ConfigurationError,
    QueryError,
    SpecError,
    StorageError,
    WatchkeeperError,
)
from watchkeeper.instrument import REGISTRY, Registry, cache, llm, measured, queues
from watchkeeper.instrument.api import instrument
from watchkeeper.instrument.db import instrument_sqlalchemy, uninstrument_sqlalchemy
from watchkeeper.instrument.outcomes import declare_job, declare_outcomes, job, outcome
from watchkeeper.instrument.quota import quota
from watchkeeper.instrument.rum import RUM
from watchkeeper.logs import bind
from watchkeeper.profiling import profile
from watchkeeper.tracing import span, traced

__all__ = [
    "REGISTRY",
    "RUM",
    "ConfigurationError",
    "QueryError",
    "Registry",
    "SpecError",
    "StorageError",
    "WatchkeeperError",
    "__version__",
    "bind",
    "cache",
    "declare_job",
    "declare_outcomes",
    "instrument",
    "instrument_sqlalchemy",
    "job",
    "llm",
    "logs",
    "measured",
    "outcome",
    "profile",
    "quota",
    "span",
    "traced",
    "queues",
    "uninstrument_sqlalchemy",
]
