"""watchkeeper.logs."""
