"""The embedded notifier against a real Alertmanager 0.25, from one spec.

``watchkeeper up -f spec`` runs the notifier from the spec; Debian's
``prometheus-alertmanager`` runs the alertmanager.yml generated from that same
spec (webhooks pointed at its own sink). The same alerts, with explicit
``startsAt``/``endsAt``, are POSTed to both, phase by phase; both sinks must see
the same notifications: receiver, group labels, status, group key, common labels and
annotations, and every alert's labels, status, fingerprint and times. The phases cover
routing with ``continue`` and per-route ``group_by``, a regex silence and its expiry,
an alert joining a notified group (group interval), the generated and the spec's
inhibitions (including a muted alert that resolves), and everything resolving.
"""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.monitor.notify.sink import Sink, wait_for
from tests.support.alertmanager import ALERTMANAGER, running_alertmanager
from tests.support.watchkeeper import watchkeeper_up
from watchkeeper.monitor.notify import alertmanager_yaml

pytestmark = pytest.mark.slow


SPEC = """\
version: 1
service: shop
targets: ["127.0.0.1:9"]
notify:
  receiver: team
  group_by: [alertname, service]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
  receivers:
    - {name: team, webhook: {url: "SINK/team"}}
    - {name: pager, webhook: {url: "SINK/pager"}}
    - {name: dba, webhook: {url: "SINK/dba"}}
    - {name: audit, webhook: {url: "SINK/audit"}}
  routes:
    - {match: {alertname: DatabaseDown}, receiver: dba, continue: true}
    - {match: {severity: critical}, receiver: pager, group_by: [alertname, service, instance]}
    - {match_re: {alertname: "Traffic.*"}, receiver: audit}
  inhibit:
    - source: {alertname: ServiceDown}
      target: {severity: warning}
      equal: [service]
"""


def _iso(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


Key = tuple[str, tuple[tuple[str, str], ...]]


def _normal(body: dict[str, Any]) -> tuple[Key, str, tuple[Any, ...]]:
    group: Key = (body["receiver"], tuple(sorted(body["groupLabels"].items())))
    alerts = tuple(
        sorted(
            (
                tuple(sorted(a["labels"].items())),
                a["status"],
                a["fingerprint"],
                a["startsAt"],
                a["endsAt"],
            )
            for a in body["alerts"]
        )
    )
    # Alertmanager's payload fields besides the alerts must agree too (not externalURL,
    # which names each engine's own address).
    envelope = tuple(
        orjson.dumps(body[k], option=orjson.OPT_SORT_KEYS).decode()
        for k in ("version", "groupKey", "truncatedAlerts", "commonLabels", "commonAnnotations")
    )
    return group, body["status"], (envelope, alerts)


def _by_group(sink: Sink) -> dict[Key, list[tuple[str, tuple[Any, ...]]]]:
    out: dict[Key, list[tuple[str, tuple[Any, ...]]]] = {}
    for body in sink.received():
        group, status, alerts = _normal(body)
        out.setdefault(group, []).append((status, alerts))
    return out


def _settle(sinks: list[Sink], at_least: int) -> None:
    """Wait until each sink has ``at_least`` messages and nothing new came for 3 s
    (more than a group interval)."""
    for sink in sinks:

        def enough(s: Sink = sink) -> bool:
            return len(s.received()) >= at_least

        wait_for(enough, 60, f"{at_least} notifications")
    counts = [len(s.received()) for s in sinks]
    stable_since = time.monotonic()
    while time.monotonic() - stable_since < 3.0:
        time.sleep(0.2)
        now = [len(s.received()) for s in sinks]
        if now != counts:
            counts, stable_since = now, time.monotonic()


@pytest.mark.skipif(
    shutil.which(ALERTMANAGER) is None, reason="scripts/setup-system.sh installs it"
)
def test_same_groups_as_alertmanager(tmp_path: Path) -> None:
    with Sink() as ours, Sink() as theirs:
        ours.start()
        theirs.start()
        spec = tmp_path / "watchkeeper.yaml"
        spec.write_text(SPEC.replace("SINK", f"http://127.0.0.1:{ours.port}"))
        am_config = tmp_path / "alertmanager.yml"
        generated = alertmanager_yaml(spec)
        am_config.write_text(
            generated.replace(f"127.0.0.1:{ours.port}", f"127.0.0.1:{theirs.port}")
        )
        assert f"127.0.0.1:{theirs.port}/pager" in am_config.read_text()
        with (
            running_alertmanager(am_config, tmp_path) as am,
            watchkeeper_up(tmp_path / "data", "-f", str(spec), "--no-spec-rules") as (wk, _),
        ):
            engines = [wk, am]

            def post(path: str, body: Any) -> list[Any]:
                answers = []
                for base in engines:
                    response = httpx.post(f"{base}{path}", json=body, timeout=10)
                    assert response.status_code == 200, (base, response.text)
                    answers.append(response.json() if response.content else None)
                return answers

            t0 = int(time.time() * 1000)
            later = _iso(t0 + 3_600_000)

            def a(name: str, ends: str = later, **labels: str) -> dict[str, Any]:
                return {
                    "labels": {"alertname": name, **labels},
                    "annotations": {"summary": f"{name} on {labels.get('service', '?')}"},
                    "startsAt": _iso(t0),
                    "endsAt": ends,
                    "generatorURL": "http://prometheus/graph",
                }

            # Phase 1: routing, continue, per-route group_by, a silence (regex matcher).
            silence_ids = post(
                "/api/v2/silences",
                {
                    "matchers": [{"name": "alertname", "value": "Silen.*", "isRegex": True}],
                    "startsAt": _iso(t0),
                    "endsAt": later,
                    "createdBy": "test",
                    "comment": "differential",
                },
            )
            phase1 = [
                a("HighErrorRate", service="shop", severity="critical", instance="1"),
                a("HighErrorRate", service="shop", severity="critical", instance="2"),
                a("TrafficDrop", service="shop", severity="warning"),
                a("DatabaseDown", service="shop", severity="critical", instance="db"),
                a("CheckoutStalled", service="shop", severity="warning"),
                a("CheckoutStalled", service="cart", severity="warning"),
                a("Silenced", service="shop", severity="info"),
                a("Noise", service="shop"),
            ]
            post("/api/v2/alerts", phase1)
            _settle([ours, theirs], 8)
            assert _by_group(ours) == _by_group(theirs)
            assert sorted(k for k in _by_group(ours)) == sorted(
                [
                    (
                        "pager",
                        (("alertname", "HighErrorRate"), ("instance", "1"), ("service", "shop")),
                    ),
                    (
                        "pager",
                        (("alertname", "HighErrorRate"), ("instance", "2"), ("service", "shop")),
                    ),
                    ("audit", (("alertname", "TrafficDrop"), ("service", "shop"))),
                    ("dba", (("alertname", "DatabaseDown"), ("service", "shop"))),
                    (
                        "pager",
                        (("alertname", "DatabaseDown"), ("instance", "db"), ("service", "shop")),
                    ),
                    ("team", (("alertname", "CheckoutStalled"), ("service", "shop"))),
                    ("team", (("alertname", "CheckoutStalled"), ("service", "cart"))),
                    ("team", (("alertname", "Noise"), ("service", "shop"))),
                ]
            )

            # Phase 1b: an alert joins a group that was already notified: the next group
            # interval sends the group again with both alerts.
            joining = a("CheckoutStalled", service="shop", severity="warning", instance="2")
            post("/api/v2/alerts", [joining])
            _settle([ours, theirs], 9)
            assert _by_group(ours) == _by_group(theirs)
            stalled = _by_group(ours)[
                ("team", (("alertname", "CheckoutStalled"), ("service", "shop")))
            ]
            assert [len(alerts) for _, (_, alerts) in stalled] == [1, 2]

            # Phase 2: ServiceDown fires (the generated inhibition and the spec's one mute
            # shop's error-rate, traffic and warning alerts); the silence is expired, so the
            # silenced alert gets through. Inhibition changes are posted apart from the
            # alerts they mute: Alertmanager updates its inhibitor asynchronously, so a
            # flush right between two alerts of one POST could see either state.
            for base, answer in zip(engines, silence_ids, strict=True):
                expired = httpx.delete(f"{base}/api/v2/silence/{answer['silenceID']}", timeout=10)
                assert expired.status_code == 200, expired.text
            post(
                "/api/v2/alerts",
                [
                    a("ServiceDown", service="shop", severity="critical"),
                    a("Silenced", service="shop", severity="info"),
                ],
            )
            _settle([ours, theirs], 11)
            assert _by_group(ours) == _by_group(theirs)
            assert len(ours.received()) == 11
            assert sorted(b["groupLabels"]["alertname"] for b in ours.received()[-2:]) == [
                "ServiceDown",
                "Silenced",
            ]
            # A muted alert resolves: nobody hears of it.
            now = _iso(int(time.time() * 1000))
            post(
                "/api/v2/alerts",
                [a("HighErrorRate", ends=now, service="shop", severity="critical", instance="1")],
            )
            _settle([ours, theirs], 11)
            assert len(ours.received()) == len(theirs.received()) == 11

            # Phase 3: ServiceDown resolves (the muted alerts, still firing, were already
            # notified: nothing new for them), then everything resolves.
            now = _iso(int(time.time() * 1000))
            post(
                "/api/v2/alerts", [a("ServiceDown", ends=now, service="shop", severity="critical")]
            )
            _settle([ours, theirs], 12)
            assert _by_group(ours) == _by_group(theirs)
            assert len(ours.received()) == 12
            now = _iso(int(time.time() * 1000))
            post("/api/v2/alerts", [{**alert, "endsAt": now} for alert in [*phase1, joining]])
            _settle([ours, theirs], 21)
            groups = _by_group(ours)
            assert groups == _by_group(theirs)
            assert len(groups) == 10
            assert all(history[-1][0] == "resolved" for history in groups.values())
