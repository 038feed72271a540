"""RUM in a real browser: Debian's headless chromium, driven by Playwright, loads pages
of a real uvicorn app that include the snippet; the histograms get the timings."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.instrument.conftest import parse
from tests.instrument.servers import free_port, serve

CHROMIUM = "/usr/bin/chromium"  # scripts/setup-system.sh installs it; never a downloaded build

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    port = free_port()
    argv = ["uvicorn", "tests.instrument.servers.rum_app:app", "--port", str(port),
            "--host", "127.0.0.1", "--log-level", "warning"]  # fmt: skip
    with serve(argv, port):
        yield f"http://127.0.0.1:{port}"


def _count(base: str, name: str, page: str) -> float:
    samples = parse(httpx.get(f"{base}/metrics", timeout=10).text)
    return samples.get((name, frozenset({("page", page)})), 0.0)


def _wait_for(base: str, name: str, page: str, at_least: float) -> float:
    deadline = time.monotonic() + 60
    while True:
        got = _count(base, name, page)
        if got >= at_least or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


def test_page_loads_and_api_calls_from_headless_chromium(base: str) -> None:
    if shutil.which(CHROMIUM) is None:
        pytest.fail("Debian's chromium is missing: run scripts/setup-system.sh")
    from playwright.sync_api import sync_playwright

    load = "rum_page_load_duration_seconds_count"
    api = "rum_api_call_duration_seconds_count"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page()
            page.goto(f"{base}/products/42", wait_until="load")
            page.wait_for_function("document.title === 'item 7'")
            assert _wait_for(base, load, "/products/{id}", 1) == 1
            # the page's own fetch is reported (with the load, or batched after it)
            assert _wait_for(base, api, "/products/{id}", 1) == 1
            page.goto(f"{base}/unlisted", wait_until="load")  # not allow-listed
            assert _wait_for(base, load, "_other", 1) == 1
        finally:
            browser.close()
    assert _count(base, load, "/") == 0  # nothing landed on the wrong route
    assert _count(base, "rum_time_to_first_byte_seconds_count", "/products/{id}") == 1
    samples = parse(httpx.get(f"{base}/metrics", timeout=10).text)
    assert samples[("rum_beacons_total", frozenset({("result", "accepted")}))] >= 2
    refused = [
        v
        for (name, labels), v in samples.items()
        if name == "rum_beacons_total" and ("result", "accepted") not in labels
    ]
    assert sum(refused) == 0  # the snippet's beacons pass the strict schema
