"""watchkeeper.spec."""
