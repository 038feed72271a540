"""Apps that tests/health runs in real server processes."""
