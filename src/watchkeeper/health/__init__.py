"""watchkeeper.health."""
