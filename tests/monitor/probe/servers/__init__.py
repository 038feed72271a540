"""Apps the probe tests run as real processes."""
