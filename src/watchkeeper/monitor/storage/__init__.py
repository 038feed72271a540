"""watchkeeper.monitor.storage."""
