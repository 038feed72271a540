"""Reading a certificate's notAfter from DER, checked against what openssl itself says."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path

import pytest

from tests.monitor.probe.conftest import Certificate
from watchkeeper.monitor.probe.certs import CertificateError, not_after


def _der(pem: Path) -> bytes:
    return ssl.PEM_cert_to_DER_cert(pem.read_text())


def test_not_after_matches_openssl(certificate: Certificate) -> None:
    assert not_after(_der(certificate.cert)) == certificate.not_after


def test_generalized_time_after_2049(tmp_path: Path) -> None:
    """RFC 5280 switches from UTCTime to GeneralizedTime for dates from 2050 on."""
    openssl = shutil.which("openssl")
    assert openssl
    cert = tmp_path / "long.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(tmp_path / "key.pem"), "-out", str(cert), "-days", "15000",
         "-subj", "/CN=long"],
        check=True, capture_output=True,
    )  # fmt: skip
    end = subprocess.run(
        [openssl, "x509", "-enddate", "-noout", "-in", str(cert)],
        check=True, capture_output=True, text=True,
    ).stdout.strip().partition("=")[2]  # fmt: skip
    assert int(end.split()[-2]) >= 2050
    assert not_after(_der(cert)) == ssl.cert_time_to_seconds(end)


@pytest.mark.parametrize("data", [b"", b"\x02\x01\x00", b"\x30\x85\x00", b"\x30\x03\x30\x01"])
def test_garbage_is_a_certificate_error(data: bytes) -> None:
    with pytest.raises(CertificateError):
        not_after(data)
