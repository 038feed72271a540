"""Secrets of receivers: read when a notification is sent, never stored or shown.

A spec writes ``${VAR}``; the Alertmanager generator turns that into
``*_file: /etc/alertmanager/secrets/VAR``. Both mean "the environment variable
VAR" here. Any other ``*_file`` path is read from disk at send time, like
Alertmanager does. ``str()`` and ``repr()`` of a ``Secret`` are redacted.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["REDACTED", "Secret", "SecretMissing", "redact_url", "scrub"]

REDACTED = "<redacted>"
_ALERTMANAGER_SECRETS_DIR = "/etc/alertmanager/secrets/"


class SecretMissing(RuntimeError):
    """The environment variable or file that holds a secret is not there."""


@dataclass(frozen=True, slots=True)
class Secret:
    """Where a secret comes from: ``env`` (a variable), ``file`` (a path) or ``value``."""

    env: str | None = None
    file: str | None = None
    value: str | None = None

    @classmethod
    def from_config(cls, plain: object, file: object) -> Secret | None:
        if isinstance(file, str) and file:
            if file.startswith(_ALERTMANAGER_SECRETS_DIR):
                return cls(env=file.removeprefix(_ALERTMANAGER_SECRETS_DIR))
            return cls(file=file)
        if isinstance(plain, str) and plain:
            if plain.startswith("${") and plain.endswith("}"):
                return cls(env=plain[2:-1])
            return cls(value=plain)
        return None

    def reveal(self) -> str:
        """The secret's value, read now (so a rotated secret is picked up without restart)."""
        if self.env is not None:
            found = os.environ.get(self.env)
            if not found:
                raise SecretMissing(f"environment variable {self.env} is not set")
            return found
        if self.file is not None:
            try:
                return Path(self.file).read_text().strip()
            except OSError as exc:
                raise SecretMissing(
                    f"cannot read secret file {self.file}: {exc.strerror}"
                ) from None
        return self.value or ""

    def describe(self) -> str:
        """What may be shown: the source, never the value."""
        if self.env is not None:
            return f"${{{self.env}}}"
        if self.file is not None:
            return f"file:{self.file}"
        return REDACTED

    def __str__(self) -> str:
        return self.describe()

    def __repr__(self) -> str:
        return f"Secret({self.describe()})"


def redact_url(url: str) -> str:
    """scheme://host[:port]/path of a URL, without credentials, query or fragment."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return REDACTED
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{port}{parts.path}"


def scrub(text: str, secrets: list[str]) -> str:
    """``text`` with every occurrence of a secret value replaced (for error messages)."""
    for value in secrets:
        if value and len(value) >= 4:
            text = text.replace(value, REDACTED)
    return text
