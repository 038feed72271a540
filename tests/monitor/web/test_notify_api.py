"""The notifier's HTTP API: silences, alerts and groups (Alertmanager's API v2 shapes),
the notification log, token auth, and no secret in any answer."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from tests.monitor.notify.sink import Sink, wait_for
from tests.support.asgi import ASGIClient
from tests.support.watchkeeper import watchkeeper_up
from watchkeeper.monitor.notify import Notifier, parse_config
from watchkeeper.monitor.web.auth import TokenAuthMiddleware
from watchkeeper.monitor.web.notify_api import notify_routes

CONFIG = {
    "route": {
        "receiver": "team",
        "group_by": ["alertname"],
        "routes": [{"receiver": "pager", "matchers": ['severity="critical"']}],
    },
    "receivers": [{"name": "team"}, {"name": "pager"}],
}


def _iso(seconds_from_now: float) -> str:
    moment = datetime.fromtimestamp(time.time() + seconds_from_now, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@pytest.fixture
def notifier(tmp_path: Path) -> Iterator[Notifier]:
    n = Notifier(parse_config(CONFIG), tmp_path)
    yield n
    asyncio.run(n.stop())


@pytest.fixture
def client(notifier: Notifier) -> ASGIClient:
    return ASGIClient(Starlette(routes=notify_routes(notifier)))


def _silence(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "matchers": [{"name": "alertname", "value": "Disk.*", "isRegex": True}],
        "endsAt": _iso(3600),
        "createdBy": "ana",
        "comment": "disk swap tonight",
    }
    return body | overrides


def test_silence_create_list_get_expire(client: ASGIClient) -> None:
    created = client.post("/api/v2/silences", json=_silence())
    assert created.status_code == 200, created.text
    silence_id = created.json()["silenceID"]
    (listed,) = client.get("/api/v2/silences").json()
    assert listed["id"] == silence_id
    assert listed["status"] == {"state": "active"}
    assert listed["createdBy"] == "ana"
    assert listed["comment"] == "disk swap tonight"
    assert listed["matchers"] == [
        {"name": "alertname", "value": "Disk.*", "isRegex": True, "isEqual": True}
    ]
    assert client.get(f"/api/v2/silence/{silence_id}").json() == listed
    assert client.request("DELETE", f"/api/v2/silence/{silence_id}").status_code == 200
    assert client.get(f"/api/v2/silence/{silence_id}").json()["status"]["state"] == "expired"
    again = client.request("DELETE", f"/api/v2/silence/{silence_id}")
    assert again.status_code == 400
    assert "already expired" in again.json()
    assert client.request("DELETE", "/api/v2/silence/nope").status_code == 404
    # A silence starting later is pending; updating it by id keeps the id.
    later = client.post("/api/v2/silences", json=_silence(startsAt=_iso(600))).json()
    updated = client.post(
        "/api/v2/silences",
        json=_silence(id=later["silenceID"], startsAt=_iso(600), comment="moved"),
    )
    assert updated.json() == later
    got = client.get(f"/api/v2/silence/{later['silenceID']}").json()
    assert (got["status"]["state"], got["comment"]) == ("pending", "moved")
    # Changing an active silence's matchers expires it and makes a new one.
    active = client.post("/api/v2/silences", json=_silence()).json()["silenceID"]
    extended = client.post("/api/v2/silences", json=_silence(id=active, endsAt=_iso(7200)))
    assert extended.json() == {"silenceID": active}
    other = [{"name": "alertname", "value": "CPU"}]
    replaced = client.post("/api/v2/silences", json=_silence(id=active, matchers=other))
    new_id = replaced.json()["silenceID"]
    assert new_id != active
    assert client.get(f"/api/v2/silence/{active}").json()["status"]["state"] == "expired"
    assert client.get(f"/api/v2/silence/{new_id}").json()["matchers"][0]["value"] == "CPU"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"matchers": []}, "at least one matcher"),
        ({"matchers": [{"name": "x", "value": ".*", "isRegex": True}]}, "empty string"),
        ({"matchers": [{"name": "x", "value": "(", "isRegex": True}]}, "regular expression"),
        ({"endsAt": _iso(-60)}, "in the past"),
        ({"endsAt": "tomorrow"}, "RFC 3339"),
        ({"startsAt": _iso(7200)}, "must be after startsAt"),
        ({"createdBy": ""}, "createdBy"),
        ({"comment": None}, "comment"),
    ],
)
def test_bad_silences_are_rejected_with_the_reason(
    client: ASGIClient, overrides: dict[str, Any], message: str
) -> None:
    response = client.post("/api/v2/silences", json=_silence(**overrides))
    assert response.status_code == 400
    assert message in response.json()
    assert client.get("/api/v2/silences").json() == []


def test_alerts_and_groups_show_routing_and_muting(client: ASGIClient) -> None:
    client.post("/api/v2/silences", json=_silence())
    alerts = [
        {"labels": {"alertname": "DiskFull", "severity": "critical"}, "endsAt": _iso(600)},
        {"labels": {"alertname": "Slow"}, "annotations": {"summary": "slow"}},
    ]
    assert client.post("/api/v2/alerts", json=alerts).status_code == 200
    listed = {a["labels"]["alertname"]: a for a in client.get("/api/v2/alerts").json()}
    assert listed["DiskFull"]["status"]["state"] == "suppressed"
    assert len(listed["DiskFull"]["status"]["silencedBy"]) == 1
    assert listed["DiskFull"]["receivers"] == [{"name": "pager"}]
    assert listed["Slow"]["status"] == {"state": "active", "silencedBy": [], "inhibitedBy": []}
    assert listed["Slow"]["annotations"] == {"summary": "slow"}
    only = client.get("/api/v2/alerts", params={"filter": 'alertname="Slow"'}).json()
    assert [a["labels"]["alertname"] for a in only] == ["Slow"]
    unmuted = client.get("/api/v2/alerts", params={"silenced": "false"}).json()
    assert [a["labels"]["alertname"] for a in unmuted] == ["Slow"]
    groups = client.get("/api/v2/alerts/groups").json()
    assert sorted((g["receiver"]["name"], g["labels"]["alertname"]) for g in groups) == [
        ("pager", "DiskFull"),
        ("team", "Slow"),
    ]
    bad = client.post("/api/v2/alerts", json=[{"labels": {"a": "b"}, "startsAt": "yesterday"}])
    assert bad.status_code == 400
    assert "startsAt" in bad.json()
    assert client.post("/api/v2/alerts", json={"labels": {}}).status_code == 400


def test_a_token_guards_every_notify_route(notifier: Notifier) -> None:
    app = TokenAuthMiddleware(Starlette(routes=notify_routes(notifier)), token="t0ken")
    client = ASGIClient(app)
    assert client.post("/api/v2/silences", json=_silence()).status_code == 401
    assert client.request("DELETE", "/api/v2/silence/x").status_code == 401
    assert client.post("/api/v2/alerts", json=[]).status_code == 401
    assert client.get("/api/v1/notifications").status_code == 401
    authorized = {"Authorization": "Bearer t0ken"}
    assert client.post("/api/v2/silences", json=_silence(), headers=authorized).status_code == 200


@pytest.mark.slow
def test_the_monitor_serves_the_notification_log_without_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "very-secret-bearer-9f2c"
    monkeypatch.setenv("WK_API_TEST_TOKEN", token)
    with Sink() as sink:
        sink.start()
        spec = tmp_path / "watchkeeper.yaml"
        spec.write_text(
            "version: 1\nservice: shop\ntargets: ['127.0.0.1:9']\nnotify:\n"
            "  group_wait: 1s\n  group_interval: 2s\n"
            "  receivers:\n    - name: hook\n"
            f"      webhook: {{url: '{sink.url}', bearer_token: '${{WK_API_TEST_TOKEN}}'}}\n"
        )
        assert os.environ["WK_API_TEST_TOKEN"] == token  # watchkeeper_up passes the env on
        with watchkeeper_up(tmp_path / "data", "-f", str(spec)) as (url, _):
            alert = {"labels": {"alertname": "Down", "service": "shop"}}
            assert httpx.post(f"{url}/api/v2/alerts", json=[alert]).status_code == 200
            wait_for(sink.received, what="the webhook")
            assert sink.headers[0]["Authorization"] == f"Bearer {token}"

            def delivered() -> list[Any]:
                body = httpx.get(f"{url}/api/v1/notifications").json()
                return [n for n in body["data"] if n["status"] == "delivered"]

            (entry,) = wait_for(delivered, what="a delivered notification")
            assert entry["receiver"] == "hook"
            assert entry["integration"] == "webhook[0]"
            assert entry["groupKey"] == '{}:{alertname="Down", service="shop"}'
            (attempt,) = entry["attempts"]
            assert attempt["ok"] is True
            assert attempt["statusCode"] == 200
            metrics = {
                line.split()[0]: float(line.split()[1])
                for line in httpx.get(f"{url}/metrics").text.splitlines()
                if line.startswith("watchkeeper_notify_")
            }
            assert metrics["watchkeeper_notify_delivery_attempts_total"] >= 1
            assert metrics["watchkeeper_notify_outbox_dead"] == 0
            assert metrics["watchkeeper_notify_alerts"] == 1
            status = httpx.get(f"{url}/api/v2/status").json()
            assert "${WK_API_TEST_TOKEN}" in status["config"]["original"]
            assert sink.url in status["config"]["original"]
            paths = (
                "/api/v1/notifications",
                "/api/v2/receivers",
                "/api/v2/alerts/groups",
                "/api/v2/status",
            )
            for path in paths:
                assert token not in httpx.get(f"{url}{path}").text
            if shutil.which("amtool"):  # Alertmanager's own CLI speaks to these routes
                amtool = ["amtool", f"--alertmanager.url={url}"]
                added = subprocess.run(
                    [*amtool, "silence", "add", "alertname=Down", "-c", "via amtool", "-a", "me"],
                    capture_output=True,
                    text=True,
                    check=True,
                    timeout=30,
                )
                silence_id = added.stdout.strip()
                query = subprocess.run(
                    [*amtool, "silence", "query", "-q"],
                    capture_output=True,
                    text=True,
                    check=True,
                    timeout=30,
                )
                assert query.stdout.split() == [silence_id]
                listed = httpx.get(f"{url}/api/v2/silences").json()
                assert [(s["id"], s["comment"]) for s in listed] == [(silence_id, "via amtool")]
                shown = subprocess.run(
                    [*amtool, "config", "show"],
                    capture_output=True,
                    text=True,
                    check=True,
                    timeout=30,
                )
                assert "name: hook" in shown.stdout
                assert token not in shown.stdout
