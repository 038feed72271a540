"""watchkeeper.monitor.promql."""
