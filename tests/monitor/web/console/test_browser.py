"""The console end to end in Debian's headless chromium (Playwright, the system
browser): ``watchkeeper up`` as a real process scrapes the quickstart app under
uvicorn while a thread sends it traffic; every page loads without console errors and
draws non-empty charts, a silence made in the UI suppresses its alert, the explore
page runs a query and shows a parse error, and off loopback the token is required.

Screenshots of Overview, Service, SLOs and Alerts go to ``$WATCHKEEPER_SCREENSHOTS``
(``docs/images`` refreshes the README's) or to a temp dir.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import orjson
import pytest

from tests.monitor.web.console.processes import (
    SECRETS,
    Monitor,
    app_with_traffic,
    monitor,
    spec_text,
    webhook_sink,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = "/usr/bin/chromium"  # scripts/setup-system.sh installs it; never a downloaded build
pytestmark = pytest.mark.slow

# Non-empty: pixels of the first three series colours (#3b82f6, #ef4444, #10b981), not
# only axes and grid (series with equal values hide each other, so any of the three).
_SERIES_PIXELS = """(el) => {
  const canvas = el.querySelector('canvas');
  if (!canvas) return -1;
  const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  const colours = [[59, 130, 246], [239, 68, 68], [16, 185, 129]];
  let n = 0;
  for (let i = 0; i < d.length; i += 4) {
    if (d[i + 3] < 200) continue;
    for (const [r, g, b] of colours) {
      if (Math.abs(d[i] - r) < 40 && Math.abs(d[i + 1] - g) < 40 && Math.abs(d[i + 2] - b) < 40) {
        n++;
        break;
      }
    }
  }
  return n;
}"""


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("console")


@pytest.fixture(scope="module")
def sink() -> Iterator[tuple[int, list[bytes]]]:
    with webhook_sink() as s:
        yield s


@pytest.fixture(scope="module")
def wk(work: Path, sink: tuple[int, list[bytes]]) -> Iterator[Monitor]:
    with app_with_traffic() as app_port:
        spec = work / "watchkeeper.yaml"
        spec.write_text(spec_text(app_port, sink[0]))
        history = ("orders", f"127.0.0.1:{app_port}")
        with monitor(work, "-f", str(spec), history=history) as m:
            _wait_for_data(m.url)
            yield m


def _wait_for_data(url: str) -> None:
    """Until the app is scraped live and the 15-minute sparklines (8 s steps) have a
    few points to draw a line."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        targets = httpx.get(f"{url}/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
        if any(t["scrapePool"] == "orders" and t["health"] == "up" for t in targets):
            break
        time.sleep(0.5)
    query = "sum(rate(http_server_request_duration_seconds_count[1m]))"
    points: list[Any] = []
    while time.monotonic() < deadline:
        end = time.time()
        params = {"query": query, "start": str(end - 900), "end": str(end), "step": "8"}
        body = httpx.get(f"{url}/api/v1/query_range", params=params, timeout=10).json()
        result = body["data"]["result"]
        points = result[0]["values"] if result else []
        if len(points) >= 3:
            return
        time.sleep(1)
    raise AssertionError(f"too few points after 120 s: {points}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail("Debian's chromium is missing: run scripts/setup-system.sh")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def shots(work: Path) -> Path:
    target = Path(os.environ.get("WATCHKEEPER_SCREENSHOTS", work / "shots"))
    target.mkdir(parents=True, exist_ok=True)
    return target


class Console:
    """A browser page that records console errors and uncaught exceptions."""

    def __init__(self, page: Page, base: str) -> None:
        self.page = page
        self.base = base
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def open(self, path: str) -> Page:
        self.page.goto(self.base + path, wait_until="load")
        self.page.wait_for_load_state("networkidle")
        assert self.errors == [], f"console errors on {path}: {self.errors}"
        return self.page

    def drawn(self) -> dict[str, int]:
        """Series pixels per chart key, after uPlot drew every chart."""
        self.page.wait_for_function("window.__watchkeeperCharts !== undefined")
        out: dict[str, int] = {}
        for el in self.page.query_selector_all(".chart[data-chart]"):
            out[el.get_attribute("data-chart") or ""] = el.evaluate(_SERIES_PIXELS)
        return out


@pytest.fixture
def console(browser: Browser, wk: Monitor) -> Iterator[Console]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        yield Console(context.new_page(), wk.url)
    finally:
        context.close()


def _no_secrets(html: str) -> None:
    for value in SECRETS.values():
        assert value not in html


def test_overview_cards_and_sparklines(console: Console, shots: Path) -> None:
    page = console.open("/?range=15m&refresh=off")
    card = page.locator(".card[data-service=orders]")
    assert card.count() == 1
    assert card.locator(".status.up").count() == 1
    rps = card.locator("dt:text-is('RPS') + dd").inner_text()
    assert rps not in ("–", "0"), rps
    drawn = console.drawn()
    data = page.locator("#chart-data").inner_text()[:2000]
    assert drawn["orders/rps"] > 0, (drawn, data)
    assert drawn["orders/errors"] > 0, (drawn, data)
    assert "budget" in card.inner_text()  # the spec's SLOs give the card a budget
    _no_secrets(page.content())
    page.screenshot(path=str(shots / "console-overview.png"))
    card.click()
    page.wait_for_url("**/service?*service=orders*")
    assert "range=15m" in page.url  # the time range follows the click


def test_service_page_charts_tables_and_health(console: Console, shots: Path) -> None:
    page = console.open("/service?service=orders&range=15m&refresh=off")
    drawn = console.drawn()
    for key in ("Golden signals/0", "Golden signals/1", "Golden signals/2", "Saturation/0"):
        assert drawn.get(key, 0) > 0, (key, drawn)
    tops = page.locator("table.top")
    assert tops.count() == 3
    assert "/orders/{order_id}" in tops.nth(0).inner_text()
    assert "/flaky" in tops.nth(1).inner_text()  # its 500s
    health = page.locator(".health")
    assert health.count() == 1
    assert "/health/detailed" in health.inner_text()
    _no_secrets(page.content())
    page.screenshot(path=str(shots / "console-service.png"), full_page=True)


def test_slo_page_budget_and_burn_windows(console: Console, shots: Path) -> None:
    page = console.open("/slos?range=15m&refresh=off")
    slo = page.locator("article.slo[data-slo='orders/availability']")
    assert slo.count() == 1
    # /flaky fails 30% of its calls: a 99.5% objective burns far faster than 1x.
    text = slo.inner_text()
    assert "99.5% over 30d" in text
    assert slo.locator("table.burns tbody tr").count() == 4  # the default burn windows
    burn = slo.locator("dt:text-is('Burn rate (1h)') + dd").inner_text()
    assert float(burn.rstrip("×").rstrip("k")) > 1, burn
    assert console.drawn()["orders/availability"] > 0
    assert page.locator("article.slo[data-slo='orders/latency']").count() == 1
    page.screenshot(path=str(shots / "console-slos.png"), full_page=True)


def _post_alerts(wk: Monitor, *names: str) -> None:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    alerts = [
        {
            "labels": {"alertname": name, "service": "orders", "severity": "critical"},
            "annotations": {
                "summary": f"orders: {name}",
                "runbook_url": f"https://runbooks.example.com/orders/{name}",
                "dashboard_url": "javascript:alert(1)",  # never rendered as a link
            },
            "startsAt": now,
        }
        for name in names
    ]
    r = httpx.post(f"{wk.url}/api/v2/alerts", content=orjson.dumps(alerts), timeout=10)
    assert r.status_code == 200, r.text


def _alert_state(wk: Monitor, name: str) -> dict[str, Any]:
    for a in httpx.get(f"{wk.url}/api/v2/alerts", timeout=10).json():
        if a["labels"]["alertname"] == name:
            status: dict[str, Any] = a["status"]
            return status
    raise AssertionError(f"alert {name} not in the notifier")


def _poll(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_silence_created_in_the_ui_suppresses_its_alert(
    console: Console, wk: Monitor, sink: tuple[int, list[bytes]], shots: Path
) -> None:
    _post_alerts(wk, "OrdersDown", "HighLatencyP99")
    # The unsilenced one is delivered to the webhook: the log shows the attempt.
    _poll(lambda: any(b"HighLatencyP99" in body for body in sink[1]), "the webhook delivery")
    assert _alert_state(wk, "OrdersDown")["state"] == "active"
    page = console.open("/alerts?refresh=off")
    row = page.locator("tr.alert[data-alertname=OrdersDown]")
    assert row.locator("a", has_text="runbook").get_attribute("href") == (
        "https://runbooks.example.com/orders/OrdersDown"
    )
    assert row.locator("a", has_text="dashboard").count() == 0  # javascript: dropped
    row.locator("a.silence-link").click()
    page.wait_for_load_state("load")
    matchers = page.locator("textarea[name=matchers]").input_value()
    assert 'alertname="OrdersDown"' in matchers
    assert 'service="orders"' in matchers
    page.fill("input[name=author]", "ana")
    page.fill("input[name=comment]", "deploying a fix")
    page.click("#new-silence button[type=submit]")
    page.wait_for_load_state("load")
    assert console.errors == []
    silenced = page.locator("tr.alert[data-alertname=OrdersDown] .pill.silenced")
    assert silenced.count() == 1
    state = _alert_state(wk, "OrdersDown")
    assert state["state"] == "suppressed"
    assert len(state["silencedBy"]) == 1
    assert _alert_state(wk, "HighLatencyP99")["state"] == "active"  # only what it matches
    page.goto(f"{wk.url}/alerts?refresh=off", wait_until="load")
    log = page.locator("table.notifications")
    _poll(lambda: "delivered" in log.inner_text() or bool(page.reload()), "a delivered row", 20)
    assert "HTTP 200" in log.inner_text()  # the attempt, with its answer
    _no_secrets(page.content())
    page.screenshot(path=str(shots / "console-alerts.png"), full_page=True)
    # Expire it from the list: the alert is active again.
    silence_id = state["silencedBy"][0]
    page.locator(f"tr[data-silence='{silence_id}'] button.expire").click()
    page.wait_for_load_state("load")
    assert _alert_state(wk, "OrdersDown")["state"] == "active"
    assert console.errors == []


def test_silence_form_refuses_a_cross_site_post(wk: Monitor) -> None:
    r = httpx.post(
        f"{wk.url}/alerts/silences",
        data={
            "matchers": 'alertname="OrdersDown"',
            "duration": "1h",
            "author": "x",
            "comment": "x",
        },
        headers={"origin": "https://evil.example", "sec-fetch-site": "cross-site"},
        timeout=10,
    )
    assert r.status_code == 403
    api = httpx.post(
        f"{wk.url}/api/v2/silences",
        content=b'{"matchers":[{"name":"alertname","value":"x","isRegex":false}]}',
        headers={"origin": "https://evil.example", "content-type": "text/plain"},
        timeout=10,
    )
    assert api.status_code == 403


def test_targets_page_lists_scrapes_and_probes(console: Console) -> None:
    page = console.open("/targets?refresh=off")
    scrape = page.locator("table.targets tr[data-job=orders]")
    assert scrape.count() == 1
    assert "up" in scrape.inner_text()
    probe = page.locator("table.probes tr[data-job='orders-health']")
    assert probe.count() == 1
    assert "/ready" in probe.inner_text()
    assert page.locator("#stale-banner").count() == 0


def test_explore_runs_a_query_and_shows_a_parse_error(console: Console) -> None:
    page = console.open("/explore?range=15m&refresh=off")
    page.fill(
        "textarea[name=expr]",
        "sum by (http_route) (rate(http_server_request_duration_seconds_count[1m]))",
    )
    page.click("form.explore button[type=submit]")
    page.wait_for_load_state("load")
    assert "expr=sum+by" in page.url  # the query lives in the URL
    assert console.drawn()["explore"] > 0
    assert "/orders/{order_id}" in page.locator("table.result").inner_text()
    page.check("input[value=instant]")
    page.click("form.explore button[type=submit]")
    page.wait_for_load_state("load")
    assert "vector" in page.locator("p.summary").inner_text()
    page.fill("textarea[name=expr]", "sum(rate(up[5m]")
    page.click("form.explore button[type=submit]")
    page.wait_for_load_state("load")
    error = page.locator(".query-error")
    assert error.count() == 1
    assert "parenthesis" in error.inner_text(), error.inner_text()
    assert console.errors == []


def test_dark_mode_and_stable_urls(browser: Browser, wk: Monitor) -> None:
    context = browser.new_context(color_scheme="dark", viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.goto(f"{wk.url}/service?service=orders&range=1h&refresh=off", wait_until="load")
        bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert bg == "rgb(15, 18, 22)", bg
        assert page.locator("select[name=range] option[selected]").inner_text() == "1h"
        page.select_option("select[name=range]", "6h")  # the picker submits itself
        page.wait_for_url("**range=6h**")
        assert "service=orders" in page.url
    finally:
        context.close()


def test_token_required_off_loopback(browser: Browser, work: Path) -> None:
    # Bound to every interface, the monitor generates a token; traffic stays on 127.0.0.1.
    with monitor(work, listen_host="0.0.0.0") as m:
        assert m.token
        assert httpx.get(f"{m.url}/api/v1/query?query=up", timeout=10).status_code == 401
        assert httpx.get(f"{m.url}/", timeout=10).status_code == 401
        context = browser.new_context()
        try:
            page = context.new_page()
            page.goto(f"{m.url}/alerts", wait_until="load")
            assert "/login" in page.url  # a page, not a JSON 401
            page.fill("input[name=token]", "wrong")
            page.click("button[type=submit]")
            page.wait_for_load_state("load")
            assert page.locator(".error").inner_text() == "wrong token"
            page.fill("input[name=token]", m.token)
            page.click("button[type=submit]")
            page.wait_for_url("**/alerts")
            assert page.locator("h1").first.inner_text() == "Alerts"
            cookies = {c["name"]: c for c in context.cookies()}
            assert cookies["watchkeeper_token"]["httpOnly"] is True
            assert cookies["watchkeeper_token"]["sameSite"] == "Strict"
            assert m.token not in page.content()  # never rendered back
        finally:
            context.close()
        # Jupyter-style: ?token= once, then the cookie, and the token leaves the URL.
        context = browser.new_context()
        try:
            page = context.new_page()
            page.goto(f"{m.url}/explore?token={m.token}&range=1h", wait_until="load")
            assert "token=" not in page.url
            assert "range=1h" in page.url
            assert page.locator("h1").first.inner_text() == "Explore"
        finally:
            context.close()
