"""watchkeeper.tracing."""
