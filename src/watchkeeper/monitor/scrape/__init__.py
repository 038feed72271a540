"""watchkeeper.monitor.scrape: pull metrics from targets into an ``Appendable``.

``ScrapeManager(appendable, [TargetConfig(job, url), ...])`` runs the scrape loops
(``await run()`` / ``await stop()`` / ``apply_config()`` / ``status()``).
"""

from watchkeeper.monitor.scrape.config import ACCEPT_HEADER, TargetConfig, TargetStatus
from watchkeeper.monitor.scrape.fetch import ScrapeError
from watchkeeper.monitor.scrape.manager import ScrapeManager
from watchkeeper.monitor.scrape.parser import ExpositionError, Parser, parse_series
from watchkeeper.monitor.scrape.target import TargetScraper

__all__ = [
    "ACCEPT_HEADER",
    "ExpositionError",
    "Parser",
    "ScrapeError",
    "ScrapeManager",
    "TargetConfig",
    "TargetScraper",
    "TargetStatus",
    "parse_series",
]
