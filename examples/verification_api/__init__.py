"""A QWED-style verification API monitored by watchkeeper (guide 000); see README.md."""
