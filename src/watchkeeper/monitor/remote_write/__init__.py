"""watchkeeper.monitor.remote_write: send every committed sample to Prometheus remote
write 1.0 receivers (Prometheus, VictoriaMetrics, Mimir, Thanos Receive, ...).

``RemoteWriteAppendable`` sits in front of the store on the write path and offers each
committed batch to one ``RemoteWriter`` per endpoint (a bounded queue and a sender
thread); ``RemoteWriteCollector`` exposes their metrics. See docs/remote_write.md.
"""

from watchkeeper.monitor.remote_write.config import RemoteWriteConfig, redact_url
from watchkeeper.monitor.remote_write.metrics import RemoteWriteCollector
from watchkeeper.monitor.remote_write.tee import RemoteWriteAppendable
from watchkeeper.monitor.remote_write.wire import compress, encode_write_request
from watchkeeper.monitor.remote_write.writer import OUTCOMES, RemoteWriter

__all__ = [
    "OUTCOMES",
    "RemoteWriteAppendable",
    "RemoteWriteCollector",
    "RemoteWriteConfig",
    "RemoteWriter",
    "compress",
    "encode_write_request",
    "redact_url",
]
