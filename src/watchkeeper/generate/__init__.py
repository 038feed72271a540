"""watchkeeper.generate."""
