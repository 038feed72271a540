"""Sending one rendered notification: HTTP integrations over httpx, email over SMTP.

Every failure becomes a ``DeliveryError`` whose message never contains a secret
(known secret values are scrubbed; URLs are shown without query or credentials)
and which says whether a retry can help: connection errors, timeouts, 408, 429
and 5xx can; other 4xx answers cannot (Alertmanager does not retry them either).
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from collections.abc import Mapping
from typing import Any

import httpx

from watchkeeper.monitor.notify import payloads
from watchkeeper.monitor.notify.config import (
    EmailConfig,
    Integration,
    PagerDutyConfig,
    SlackConfig,
    WebhookConfig,
)
from watchkeeper.monitor.notify.secrets import SecretMissing, redact_url, scrub

__all__ = ["DeliveryError", "forward_to_alertmanager", "send"]

USER_AGENT = "watchkeeper-notifier"


class _RedactRequestLog(logging.Filter):
    """httpx logs every request's full URL at INFO; a Slack webhook's path *is* its
    secret, so on its way to any handler the URL keeps only scheme and host."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 2:
            url = record.args[1]
            if isinstance(url, httpx.URL):
                shown = f"{url.scheme}://{url.host}{f':{url.port}' if url.port else ''}/..."
                record.args = (record.args[0], shown, *record.args[2:])
        return True


_HTTPX_LOG = logging.getLogger("httpx")
if not any(isinstance(f, _RedactRequestLog) for f in _HTTPX_LOG.filters):
    _HTTPX_LOG.addFilter(_RedactRequestLog())


class DeliveryError(Exception):
    def __init__(self, message: str, *, retryable: bool, status_code: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status_code = status_code


async def _post(
    client: httpx.AsyncClient,
    url: str,
    body: Any,
    secrets: list[str],
    headers: Mapping[str, str] | None = None,
) -> int:
    shown = redact_url(url) if url not in secrets else "<redacted url>"
    try:
        response = await client.post(
            url, json=body, headers={"User-Agent": USER_AGENT, **(headers or {})}
        )
    except httpx.TimeoutException:
        raise DeliveryError(f"POST {shown}: timed out", retryable=True) from None
    except httpx.HTTPError as exc:
        detail = scrub(str(exc), [*secrets, url])
        raise DeliveryError(
            f"POST {shown}: {type(exc).__name__}: {detail}", retryable=True
        ) from None
    status = response.status_code
    if status < 300:
        return status
    text = scrub(response.text[:200].strip(), secrets)
    retryable = status in (408, 429) or status >= 500
    raise DeliveryError(
        f"POST {shown}: HTTP {status}: {text}", retryable=retryable, status_code=status
    )


async def send(
    client: httpx.AsyncClient, integration: Integration, message: Mapping[str, Any]
) -> int | None:
    """Deliver ``message`` through ``integration``; the HTTP status (None for email)."""
    try:
        if isinstance(integration, WebhookConfig):
            headers = {}
            secrets = []
            if integration.bearer_token is not None:
                token = integration.bearer_token.reveal()
                headers["Authorization"] = f"Bearer {token}"
                secrets.append(token)
            body = payloads.webhook_payload(message, integration.max_alerts)
            return await _post(client, integration.url, body, secrets, headers)
        if isinstance(integration, SlackConfig):
            url = integration.api_url.reveal()
            return await _post(
                client, url, payloads.slack_payload(message, integration.channel), [url]
            )
        if isinstance(integration, PagerDutyConfig):
            key = integration.routing_key.reveal()
            return await _post(
                client, integration.url, payloads.pagerduty_event(message, key), [key]
            )
        await asyncio.to_thread(_send_email, integration, message)
        return None
    except SecretMissing as exc:
        raise DeliveryError(f"secret unavailable: {exc}", retryable=True) from None


async def forward_to_alertmanager(
    client: httpx.AsyncClient, base_url: str, message: Mapping[str, Any]
) -> int:
    url = base_url.rstrip("/") + "/api/v2/alerts"
    return await _post(client, url, payloads.alertmanager_alerts(message), [])


def _tls_context(config: EmailConfig) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=config.tls_ca_file)
    if config.tls_insecure_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _authenticate(smtp: smtplib.SMTP, username: str, password: str) -> None:
    """One mechanism, like Alertmanager: PLAIN if offered, else LOGIN (smtplib's
    ``login`` would try each in turn after a failure, which some servers never answer)."""
    offered = smtp.esmtp_features.get("auth", "").upper().split()
    smtp.user, smtp.password = username, password
    if "PLAIN" in offered:
        smtp.auth("PLAIN", smtp.auth_plain)
    elif "LOGIN" in offered:
        smtp.auth("LOGIN", smtp.auth_login, initial_response_ok=False)
    else:
        smtp.login(username, password)


def _send_email(config: EmailConfig, message: Mapping[str, Any]) -> None:
    host, _, port_text = config.smarthost.rpartition(":")
    if not host or not port_text.isdigit():
        raise DeliveryError(
            f"email smarthost must be HOST:PORT, got {config.smarthost!r}", retryable=False
        )
    port = int(port_text)
    password = config.auth_password.reveal() if config.auth_password is not None else None
    secrets = [password] if password else []
    email = payloads.email_message(message, config.sender, config.to)
    try:
        smtp: smtplib.SMTP
        if port == 465:  # implicit TLS, as Alertmanager does on this port
            smtp = smtplib.SMTP_SSL(
                host, port, config.hello, timeout=30, context=_tls_context(config)
            )
        else:
            smtp = smtplib.SMTP(host, port, config.hello, timeout=30)
        with smtp:
            smtp.ehlo(config.hello)
            if port != 465:
                if smtp.has_extn("starttls"):
                    smtp.starttls(context=_tls_context(config))
                    smtp.ehlo(config.hello)
                elif config.require_tls:
                    raise DeliveryError(
                        f"{config.smarthost} does not offer STARTTLS and require_tls is true",
                        retryable=False,
                    )
            if config.auth_username and password and smtp.has_extn("auth"):
                _authenticate(smtp, config.auth_username, password)
            smtp.send_message(email)
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(
            f"SMTP {config.smarthost}: authentication failed ({exc.smtp_code})", retryable=False
        ) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(
            f"SMTP {config.smarthost}: {scrub(str(exc) or type(exc).__name__, secrets)}",
            retryable=True,
        ) from None
