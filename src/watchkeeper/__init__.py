"""watchkeeper: production monitoring for Python services."""

from __future__ import annotations

from watchkeeper._version import __version__

__all__ = ["__version__"]
