"""Keeping secrets out of check names and error messages.

Driver errors and user-chosen names often quote the DSN they were given
(``postgresql://app:s3cret@db/shop``); ``/health/detailed`` and the metric labels
must never repeat a password, so every name and message passes through here.
"""

from __future__ import annotations

import re

__all__ = ["redact"]

# scheme://user:password@host -> scheme://user:***@host (and a bare token@ likewise).
_URL_USERINFO = re.compile(
    r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]*)(:[^@/\s]*)?@"
)
# libpq key=value DSNs and query strings: password=..., pwd=..., token=..., secret=...
_KEY_VALUE = re.compile(
    r"(?P<key>\b(?:password|passwd|pwd|secret|token|api_key|apikey|access_token))"
    r"(?P<sep>\s*[=:]\s*)(?P<value>'[^']*'|\"[^\"]*\"|[^\s&;,]+)",
    re.IGNORECASE,
)


def _userinfo(match: re.Match[str]) -> str:
    user = match.group("user")
    if match.group(3) is None:  # no password: a bare user (or token) before '@'
        return f"{match.group('scheme')}***@"
    return f"{match.group('scheme')}{user}:***@"


def redact(text: str) -> str:
    """``text`` with URL passwords and ``password=``-style values replaced by ``***``."""
    if "@" in text:
        text = _URL_USERINFO.sub(_userinfo, text)
    return _KEY_VALUE.sub(lambda m: f"{m.group('key')}{m.group('sep')}***", text)
