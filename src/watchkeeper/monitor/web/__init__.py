"""watchkeeper.monitor.web."""
