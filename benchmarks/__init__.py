"""Side-by-side benchmarks against the anchors (run: python -m benchmarks)."""
