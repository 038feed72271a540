"""Every console page through the monitor's real app (auth, limits, routes), in
process, on stored data: status, escaping, URL state, CSRF and the login cookie."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from watchkeeper.monitor.model import labels_from
from watchkeeper.monitor.server import Monitor, MonitorConfig
from watchkeeper.monitor.storage import open_storage
from watchkeeper.monitor.storage.synthetic import synthetic_service

SECRET = "https://hooks.slack.example/T0/B0/very-s3cret"
EVIL = '<script>alert("x")</script>'
SPEC = """\
service: shop
targets: ["http://127.0.0.1:9/metrics"]
slos:
  - name: availability
    objective: 99.9
    sli: {kind: availability}
notify:
  receivers:
    - name: chat
      slack: {webhook_url: "${WK_PAGES_TEST_SLACK}"}
"""
HTML = {"accept": "text/html"}


def _data(path: Path, now_ms: int) -> None:
    svc = synthetic_service(routes=2, steps=120, start_ms=now_ms - 120 * 15_000)
    db = open_storage(path)
    try:
        for job in ("shop", EVIL):
            refs = [db.ref(labels_from(dict(lbl) | {"job": job})) for lbl in svc.labels]
            for i, ts in enumerate(svc.timestamps.tolist()):
                db.append_refs(refs, ts, svc.values[:, i].tolist())
        # The shop also calls an LLM and a database: those sections appear for it only.
        extra = {
            "llm_tokens_total": {"model": "gpt-4o-mini", "kind": "input"},
            "llm_cost_usd_total": {"model": "gpt-4o-mini"},
            "db_client_operation_duration_seconds_count": {"db_operation_name": "SELECT"},
        }
        for name, labels in extra.items():
            series = labels_from({"__name__": name, "job": "shop", **labels})
            for i, ts in enumerate(svc.timestamps.tolist()):
                db.append(series, ts, 10.0 * i)
        db.commit()
    finally:
        db.close()


def _monitor(tmp_path: Path, token: str | None = None) -> Monitor:
    spec = tmp_path / "watchkeeper.yaml"
    spec.write_text(SPEC)
    config = MonitorConfig(data_dir=tmp_path / "data", spec_path=spec, token=token)
    return Monitor(config, console=True)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One monitor for the module (building the data is the slow part)."""
    tmp_path = tmp_path_factory.mktemp("pages")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WK_PAGES_TEST_SLACK", SECRET)
        _data(tmp_path / "data", int(time.time() * 1000))
        with TestClient(_monitor(tmp_path).app, base_url="http://127.0.0.1:9099") as c:
            yield c


PAGES = [
    "/",
    "/?range=1d&refresh=off",
    "/service?service=shop&range=15m",
    "/slos",
    "/alerts",
    "/targets",
    "/explore?expr=up&mode=instant",
    "/explore?expr=rate(up[5m])&step=15s",
]


@pytest.mark.parametrize("path", PAGES)
def test_pages_render_escaped_without_secrets(client: TestClient, path: str) -> None:
    r = client.get(path, headers=HTML)
    assert r.status_code == 200, r.text[:2000]
    assert r.headers["content-type"].startswith("text/html")
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert EVIL not in r.text  # the hostile job name is shown, escaped
    assert SECRET not in r.text
    assert "query failed" not in r.text
    assert "queries failed" not in r.text


def test_overview_lists_both_services_with_escaped_names(client: TestClient) -> None:
    text = client.get("/?range=15m").text
    assert 'data-service="shop"' in text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in text
    # Chart data sits in a JSON script element that no string can close early.
    data = re.search(r'<script type="application/json" id="chart-data">(.*?)</script>', text, re.S)
    assert data is not None
    assert "\\u003cscript\\u003e" in data.group(1)


def test_service_page_keeps_its_state_in_links(client: TestClient) -> None:
    text = client.get("/service?service=shop&range=6h&refresh=off").text
    assert 'href="/explore?range=6h&amp;refresh=off&amp;expr=' in text
    assert '<option value="6h" selected>' in text
    assert client.get("/service?service=nope").status_code == 404


def test_sections_appear_when_their_metrics_exist(client: TestClient) -> None:
    shop = client.get("/service?service=shop&range=15m").text
    for title in ("LLM tokens by model and kind", "LLM cost (USD per hour)", "Database operations"):
        assert f"<figcaption>{title}" in shop
    other = client.get("/service", params={"service": EVIL, "range": "15m"}).text
    assert "<h2>LLM</h2>" not in other
    assert "Database operations" not in other
    assert "<figcaption>Traffic by route" in other  # golden signals always show


def test_explore_shows_parse_errors_inline(client: TestClient) -> None:
    text = client.get("/explore?expr=sum(rate(up[5m])").text
    error = re.search(r'<pre class="error query-error" role="alert">(.*?)</pre>', text, re.S)
    assert error is not None
    assert "parenthesis" in error.group(1)


def _csrf(client: TestClient) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get("/alerts").text)
    assert found is not None
    return found.group(1)


def test_silence_needs_same_origin_and_the_csrf_token(client: TestClient) -> None:
    token = _csrf(client)
    form = {"matchers": 'alertname="A"', "duration": "1h", "author": "a", "comment": "c"}
    origin = {"origin": "http://127.0.0.1:9099"}
    assert client.post("/alerts/silences", data=form, headers=origin).status_code == 403
    bad = client.post("/alerts/silences", data=form | {"csrf": "x" * 43}, headers=origin)
    assert bad.status_code == 403
    cross = {"origin": "https://evil.example"}
    assert (
        client.post("/alerts/silences", data=form | {"csrf": token}, headers=cross).status_code
        == 403
    )
    ok = client.post(
        "/alerts/silences", data=form | {"csrf": token}, headers=origin, follow_redirects=False
    )
    assert ok.status_code == 303
    silences = client.get("/api/v2/silences").json()
    assert [s["createdBy"] for s in silences] == ["a"]
    invalid = client.post(
        "/alerts/silences", data=form | {"csrf": token, "duration": "x"}, headers=origin
    )
    assert invalid.status_code == 400
    assert "duration" in invalid.text


def test_login_cookie_when_a_token_is_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WK_PAGES_TEST_SLACK", SECRET)
    with TestClient(_monitor(tmp_path, token="t0ken").app, base_url="http://127.0.0.1:9099") as c:
        r = c.get("/slos", headers=HTML, follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"] == "/login?next=%2Fslos"
        assert c.get("/slos").status_code == 401  # an API client gets JSON
        login = c.get("/login?next=/slos")
        csrf = re.search(r'name="csrf" value="([^"]+)"', login.text)
        assert csrf is not None
        origin = {"origin": "http://127.0.0.1:9099"}
        form = {"csrf": csrf.group(1), "next": "//evil.example", "token": "t0ken"}
        r = c.post("/login", data=form, headers=origin, follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"] == "/"
        cookie = r.headers["set-cookie"]
        assert "watchkeeper_token=t0ken" in cookie
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
        assert c.get("/slos").status_code == 200  # the cookie now authenticates
        assert "t0ken" not in c.get("/slos").text
