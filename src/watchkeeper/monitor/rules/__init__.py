"""watchkeeper.monitor.rules."""
