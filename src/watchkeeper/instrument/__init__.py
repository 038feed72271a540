"""The app side of watchkeeper: middleware, decorators, metric primitives.

Never raises into the host application: faults are logged once and counted.
"""

from __future__ import annotations

from watchkeeper.instrument.api import instrument
from watchkeeper.instrument.functions import measured
from watchkeeper.instrument.registry import REGISTRY, Registry

__all__ = ["REGISTRY", "Registry", "instrument", "measured"]
