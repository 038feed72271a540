"""watchkeeper.monitor.notify."""
