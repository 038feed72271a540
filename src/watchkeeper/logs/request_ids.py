"""Request ids: accept a caller's safe ``X-Request-ID`` or make a fresh one.

An incoming id is continued only when it is 1-128 characters of
``[A-Za-z0-9._:-]`` (UUIDs, ULIDs, hex, ``svc:123``): anything else (spaces,
control characters, quotes, HTML, over-long values) is replaced by a fresh id and
never echoed or logged, so a client cannot forge log lines or inject headers.
A fresh id is 32 hex characters (128 random bits, the size of a trace id).
"""

from __future__ import annotations

import os
import re

__all__ = ["MAX_LENGTH", "new_request_id", "valid_request_id"]

MAX_LENGTH = 128
_SAFE = re.compile(rf"[A-Za-z0-9._:\-]{{1,{MAX_LENGTH}}}\Z").match
_urandom = os.urandom


def new_request_id() -> str:
    return _urandom(16).hex()


def valid_request_id(value: str | None) -> str | None:
    """``value`` if it is a safe request id, else None."""
    if value is None or len(value) > MAX_LENGTH or _SAFE(value) is None:
        return None
    return value
