"""Secrets are read at send time and never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from watchkeeper.monitor.notify.secrets import Secret, SecretMissing, redact_url, scrub


def test_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WK_S", "from-env")
    (tmp_path / "s").write_text("from-file\n")
    assert Secret.from_config("${WK_S}", None) == Secret(env="WK_S")
    assert Secret.from_config(None, "/etc/alertmanager/secrets/WK_S") == Secret(env="WK_S")
    assert Secret.from_config(None, str(tmp_path / "s")) == Secret(file=str(tmp_path / "s"))
    assert Secret.from_config(None, None) is None
    assert Secret(env="WK_S").reveal() == "from-env"
    assert Secret(file=str(tmp_path / "s")).reveal() == "from-file"
    literal = Secret.from_config("plain-text-secret", None)
    assert literal is not None
    assert literal.reveal() == "plain-text-secret"
    assert "plain-text-secret" not in f"{literal} {literal!r}"
    monkeypatch.delenv("WK_S")
    with pytest.raises(SecretMissing, match="WK_S is not set"):
        Secret(env="WK_S").reveal()


def test_redaction() -> None:
    assert redact_url("https://user:pw@hooks.example.com:8443/a/b?token=x#f") == (
        "https://hooks.example.com:8443/a/b"
    )
    assert scrub("failed for key abcd1234 and abcd1234", ["abcd1234"]) == (
        "failed for key <redacted> and <redacted>"
    )
