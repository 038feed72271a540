"""watchkeeper.monitor."""
