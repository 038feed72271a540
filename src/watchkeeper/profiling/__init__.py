"""Profiling hooks: find the CPU and memory hogs, on demand and never by default.

- ``watchkeeper.profile`` (context manager and decorator, sync and async): cProfile's
  top functions and tracemalloc's peak and top allocations of one block, as text
  and as structured log fields.
- ``ProfileEndpoint``: an opt-in, token-protected endpoint (``instrument(app,
  profiling_token=...)``) that samples the whole live process for N seconds.
"""

from __future__ import annotations

from watchkeeper.profiling.block import profile
from watchkeeper.profiling.endpoint import ProfileEndpoint
from watchkeeper.profiling.report import CpuRow, MemoryRow, ProfileReport
from watchkeeper.profiling.sampler import sample_process

__all__ = ["CpuRow", "MemoryRow", "ProfileEndpoint", "ProfileReport", "profile", "sample_process"]
