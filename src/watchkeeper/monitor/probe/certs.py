"""A certificate's expiry (``notAfter``) from its DER bytes.

``ssl.SSLSocket.getpeercert()`` returns the parsed fields only when the chain was
verified; with verification off (``insecure_skip_verify``, as blackbox_exporter allows)
only the DER form is available. Reading the one field we need from DER keeps both
cases on one code path without a dependency on a crypto library.
"""

from __future__ import annotations

import ssl
from datetime import UTC, datetime

__all__ = ["CertificateError", "not_after", "peer_not_after", "tls_context"]

_SEQUENCE, _UTC_TIME, _GENERALIZED_TIME, _VERSION_TAG = 0x30, 0x17, 0x18, 0xA0


class CertificateError(ValueError):
    """The bytes are not an X.509 certificate we can read."""


def _tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of content, end of content) of the DER element at ``pos``."""
    if pos + 2 > len(data):
        raise CertificateError("truncated DER element")
    tag, length = data[pos], data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if not 0 < count <= 4 or pos + count > len(data):
            raise CertificateError("bad DER length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise CertificateError("DER element longer than the data")
    return tag, pos, pos + length


def _time(tag: int, text: str) -> float:
    if tag == _UTC_TIME:  # YYMMDDHHMMSSZ; RFC 5280: YY >= 50 means 19YY
        year = int(text[:2])
        text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
    elif tag != _GENERALIZED_TIME:
        raise CertificateError(f"validity time has unexpected DER tag {tag:#x}")
    try:
        when = datetime.strptime(text, "%Y%m%d%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise CertificateError(f"unreadable validity time {text!r}") from None
    return when.timestamp()


def not_after(der: bytes) -> float:
    """The certificate's ``notAfter`` as Unix seconds."""
    tag, start, _ = _tlv(der, 0)
    if tag != _SEQUENCE:
        raise CertificateError("not a DER certificate (no outer SEQUENCE)")
    tag, pos, _ = _tlv(der, start)  # tbsCertificate
    if tag != _SEQUENCE:
        raise CertificateError("not a DER certificate (no tbsCertificate)")
    tag, _, end = _tlv(der, pos)
    if tag == _VERSION_TAG:  # [0] version is optional (absent means v1)
        pos = end
    # serialNumber, signature algorithm, issuer: skip; then validity.
    for _ in range(3):
        pos = _tlv(der, pos)[2]
    tag, pos, _ = _tlv(der, pos)
    if tag != _SEQUENCE:
        raise CertificateError("not a DER certificate (no validity)")
    pos = _tlv(der, pos)[2]  # notBefore
    tag, start, end = _tlv(der, pos)
    return _time(tag, der[start:end].decode("ascii", errors="replace"))


def tls_context(
    *, ca_file: str | None = None, insecure_skip_verify: bool = False
) -> ssl.SSLContext:
    """The client context of a probe: system roots (or ``ca_file``), or no verification at all
    when asked (the certificate's expiry is still read)."""
    context = ssl.create_default_context(cafile=ca_file)
    if insecure_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def peer_not_after(ssl_object: object) -> float | None:
    """The peer certificate's expiry from an ``ssl.SSLObject``/``SSLSocket``, None if unreadable.

    Python 3.11 exposes only the leaf certificate (the verified chain arrived in 3.13),
    so this is the leaf's ``notAfter``, which is the earliest in all but odd chains.
    """
    getpeercert = getattr(ssl_object, "getpeercert", None)
    if getpeercert is None:
        return None
    try:
        der = getpeercert(binary_form=True)
        return not_after(der) if der else None
    except (CertificateError, ValueError, ssl.SSLError):
        return None
