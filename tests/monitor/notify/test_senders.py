"""Each integration against a real server on 127.0.0.1: SMTP (aiosmtpd, STARTTLS and
AUTH), Slack and PagerDuty (a local sink standing in for their endpoints) and a real
Alertmanager as a forwarding target."""

from __future__ import annotations

import asyncio
import contextlib
import email
import hashlib
import logging
import shutil
import subprocess
import time
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.monitor.notify.sink import Sink, wait_for
from tests.monitor.notify.support import alert, running
from tests.support.alertmanager import ALERTMANAGER, running_alertmanager
from tests.support.prometheus import free_port
from watchkeeper.monitor.notify import Notifier, parse_config
from watchkeeper.monitor.notify.config import EmailConfig, Integration, PagerDutyConfig, SlackConfig
from watchkeeper.monitor.notify.matchers import fingerprint
from watchkeeper.monitor.notify.secrets import Secret
from watchkeeper.monitor.notify.senders import DeliveryError, send

PASSWORD = "smtp-pa55word-secret"

MESSAGE: dict[str, Any] = {
    "receiver": "ops",
    "groupKey": '{}:{alertname="Down"}',
    "groupLabels": {"alertname": "Down"},
    "externalURL": "http://wk:9099",
    "status": "firing",
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "Down",
                "service": "shop",
                "severity": "critical",
                "instance": i,
            },
            "annotations": {"summary": f"shop {i} is down", "runbook_url": "http://rb/down"},
            "startsAt": 1_700_000_000_000,
            "endsAt": 0,
            "generatorURL": "",
            "fingerprint": "0",
        }
        for i in ("a", "b")
    ],
}


def _send(integration: Integration, message: dict[str, Any] = MESSAGE) -> int | None:
    async def go() -> int | None:
        async with httpx.AsyncClient(timeout=10) as client:
            return await send(client, integration, message)

    return asyncio.run(go())


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[Envelope, Message]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        self.messages.append((envelope, email.message_from_bytes(envelope.content)))
        return "250 OK"


def _authenticator(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    ok = (
        isinstance(data, LoginPassword)
        and data.login == b"alerts"
        and (data.password == PASSWORD.encode())
    )
    return AuthResult(success=ok, handled=False)  # handled=True would send no reply


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    work = tmp_path_factory.mktemp("tls")
    cert, key = work / "cert.pem", work / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@contextlib.contextmanager
def smtp_server(
    certificate: tuple[Path, Path], *, tls: bool = True
) -> Iterator[tuple[int, _Mailbox]]:
    import ssl

    mailbox = _Mailbox()
    context = None
    if tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(certificate[0]), str(certificate[1]))
    port = free_port()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=tls,
        authenticator=_authenticator,
        auth_require_tls=True,
        auth_required=tls,
    )
    controller.start()
    try:
        yield port, mailbox
    finally:
        controller.stop()


def test_email_over_starttls_with_auth(
    certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WK_SMTP_PASSWORD", PASSWORD)
    with smtp_server(certificate) as (port, mailbox):
        config = EmailConfig(
            to="oncall@example.com",
            sender="alerts@example.com",
            smarthost=f"127.0.0.1:{port}",
            auth_username="alerts",
            auth_password=Secret(env="WK_SMTP_PASSWORD"),
            tls_ca_file=str(certificate[0]),
        )
        assert _send(config) is None
        ((envelope, message),) = mailbox.messages
        assert envelope.rcpt_tos == ["oncall@example.com"]
        assert envelope.mail_from == "alerts@example.com"
        assert message["Subject"] == "[FIRING:2] Down (shop critical)"
        body = message.get_payload()
        assert isinstance(body, str)
        assert "shop a is down" in body
        assert "shop b is down" in body
        assert PASSWORD not in envelope.content.decode()  # type: ignore[union-attr]


def test_email_failures_say_why_without_the_password(
    certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WK_SMTP_PASSWORD", "wrong-" + PASSWORD)
    with smtp_server(certificate) as (port, mailbox):
        config = EmailConfig(
            to="oncall@example.com",
            sender="alerts@example.com",
            smarthost=f"127.0.0.1:{port}",
            auth_username="alerts",
            auth_password=Secret(env="WK_SMTP_PASSWORD"),
            tls_ca_file=str(certificate[0]),
        )
        with pytest.raises(DeliveryError) as failed:
            _send(config)
        assert "authentication failed" in str(failed.value)
        assert PASSWORD not in str(failed.value)
        assert not failed.value.retryable
        assert mailbox.messages == []
    with smtp_server(certificate, tls=False) as (port, mailbox):
        plain = EmailConfig(
            to="a@example.com", sender="b@example.com", smarthost=f"127.0.0.1:{port}"
        )
        with pytest.raises(DeliveryError, match="does not offer STARTTLS"):
            _send(plain)
        # require_tls: false sends in the clear, as Alertmanager does.
        _send(
            EmailConfig(
                to="a@example.com",
                sender="b@example.com",
                smarthost=f"127.0.0.1:{port}",
                require_tls=False,
            )
        )
        assert len(mailbox.messages) == 1
    monkeypatch.delenv("WK_SMTP_PASSWORD")
    missing = EmailConfig(
        to="a@example.com",
        sender="b@example.com",
        smarthost="127.0.0.1:1",
        auth_username="u",
        auth_password=Secret(env="WK_SMTP_PASSWORD"),
    )
    with pytest.raises(DeliveryError, match="WK_SMTP_PASSWORD is not set"):
        _send(missing)


def test_slack_incoming_webhook(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with Sink() as sink:
        sink.start()
        secret_url = sink.url + "/services/T0/B0/SLACKPATHSECRET"
        monkeypatch.setenv("WK_SLACK_URL", secret_url)
        with caplog.at_level(logging.DEBUG):
            assert _send(SlackConfig(api_url=Secret(env="WK_SLACK_URL"), channel="#ops")) == 200
        assert "HTTP Request" in caplog.text  # httpx did log the request...
        assert "SLACKPATHSECRET" not in caplog.text  # ...without the URL's secret path
        (body,) = sink.received()
        assert body["channel"] == "#ops"
        (attachment,) = body["attachments"]
        assert attachment["title"] == "[FIRING] Down (shop)"
        assert (
            attachment["text"] == "shop a is down\nhttp://rb/down\nshop b is down\nhttp://rb/down\n"
        )
        assert attachment["color"] == "danger"


def test_pagerduty_events_v2(monkeypatch: pytest.MonkeyPatch) -> None:
    with Sink(status=202) as sink:
        sink.start()
        monkeypatch.setenv("WK_PD_KEY", "R0UT1NGKEY")
        pd = PagerDutyConfig(routing_key=Secret(env="WK_PD_KEY"), url=sink.url)
        assert _send(pd) == 202
        resolved = {
            **MESSAGE,
            "status": "resolved",
            "alerts": [{**a, "status": "resolved"} for a in MESSAGE["alerts"]],
        }
        _send(pd, resolved)
        trigger, resolve = sink.received()
        assert trigger["routing_key"] == "R0UT1NGKEY"
        assert trigger["event_action"] == "trigger"
        assert resolve["event_action"] == "resolve"
        key = hashlib.sha256(MESSAGE["groupKey"].encode()).hexdigest()
        assert trigger["dedup_key"] == resolve["dedup_key"] == key
        assert trigger["payload"]["severity"] == "critical"
        assert trigger["payload"]["custom_details"]["num_firing"] == "2"
        assert trigger["payload"]["summary"] == "[FIRING:2] Down (shop critical)"


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which(ALERTMANAGER) is None, reason="scripts/setup-system.sh installs it"
)
def test_forwarding_to_a_real_alertmanager(tmp_path: Path) -> None:
    am_config = tmp_path / "am.yml"
    am_config.write_text("route: {receiver: blackhole}\nreceivers: [{name: blackhole}]\n")
    with running_alertmanager(am_config, tmp_path) as am:
        config = parse_config({"route": {"receiver": "x"}, "receivers": [{"name": "x"}]})
        with running(Notifier(config, tmp_path / "data", forward_to=[am])) as notifier:
            t = int(time.time() * 1000)
            notifier.notify([alert("Down", starts=t, ends=t + 600_000, service="shop")])

            def listed() -> list[Any]:
                alerts: list[Any] = httpx.get(f"{am}/api/v2/alerts", timeout=5).json()
                return alerts

            (got,) = wait_for(listed, what="the alert in Alertmanager")
            assert got["labels"] == {"alertname": "Down", "service": "shop"}
            assert got["fingerprint"] == fingerprint((("alertname", "Down"), ("service", "shop")))
            wait_for(lambda: notifier.store.counts() == {"delivered": 1}, what="delivered")
