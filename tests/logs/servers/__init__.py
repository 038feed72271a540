"""Apps served by real uvicorn processes in the logs tests."""
