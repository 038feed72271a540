"""watchkeeper.monitor.storage: the embedded time-series store.

``open_storage(dir)`` returns a :class:`TSDB` (Appendable + Queryable);
``import_openmetrics`` loads OpenMetrics text with timestamps into it.
"""

from watchkeeper.monitor.storage.importer import ImportReport, import_openmetrics
from watchkeeper.monitor.storage.memory import MemoryStorage
from watchkeeper.monitor.storage.tsdb import TSDB, open_storage

__all__ = [
    "TSDB",
    "ImportReport",
    "MemoryStorage",
    "import_openmetrics",
    "open_storage",
]
