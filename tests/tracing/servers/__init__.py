"""Apps run by real uvicorn processes in the tracing tests."""
