"""watchkeeper.instrument."""
