"""The demo's site in real headless Chromium: plan a route, see it drawn, ask again and
see frontdesk's cache answer; no console errors (the `page` fixture fails on any)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from demo_process import DemoProcess, start_demo

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoProcess]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path_factory.mktemp("demo-log") / "demo.log"
    running = start_demo(port, None, log)
    try:
        yield running
    finally:
        assert running.stop() == 0, log.read_text()


def test_plan_a_route_then_the_same_one_from_the_cache(
    demo: DemoProcess, page: Any, screenshot: Callable[..., Path]
) -> None:
    page.goto(demo.base + "/")
    # The city suggestions come from the planner's /api/map (through frontdesk).
    page.wait_for_function("document.querySelectorAll('#cities option').length === 300")
    assert page.locator("#towns circle").count() == 300

    page.fill("#from", "Seattle, WA")
    page.fill("#to", "Miami, FL")
    page.click("#go")
    page.wait_for_selector("#log li")
    assert page.get_attribute("#cache-badge", "data-status") == "miss"
    stops = page.locator("#route circle").count()
    assert stops >= 10  # the cities along the way, drawn
    points = page.get_attribute("#route polyline", "points")
    assert points is not None and len(points.split()) == stops
    assert page.locator("#labels text").all_text_contents() == ["Seattle, WA", "Miami, FL"]
    first_ms = page.evaluate("log[0].ms")

    page.click("#go")
    page.wait_for_function("document.querySelectorAll('#log li').length === 2")
    assert page.get_attribute("#cache-badge", "data-status") == "hit"
    assert "hit" in page.inner_text("#cache-status")
    assert "from frontdesk's cache" in page.inner_text("#source")
    assert page.get_attribute("#log li:first-child", "class") == "hit"
    second_ms = page.evaluate("log[0].ms")
    print(f"\nin the browser: first {first_ms:.1f} ms (miss), repeated {second_ms:.1f} ms (hit)")
    assert second_ms < first_ms

    path = screenshot(page, "route", full_page=True)
    assert path.stat().st_size > 50_000  # a page with a map, not a blank one


def test_an_unknown_city_is_said_on_the_page(demo: DemoProcess, page: Any) -> None:
    page.goto(demo.base + "/")
    page.wait_for_function("document.querySelectorAll('#cities option').length === 300")
    page.fill("#from", "Atlantis, XX")
    page.fill("#to", "Miami, FL")
    page.click("#go")  # checked on the page, before any request
    page.wait_for_selector("#error:not([hidden])")
    assert 'Unknown city "Atlantis, XX"' in page.inner_text("#error")
    assert page.locator("#log li").count() == 0


def test_the_site_links_to_the_status_page_with_both_instances(
    demo: DemoProcess, page: Any, screenshot: Callable[..., Path]
) -> None:
    page.goto(demo.base + "/")
    page.click("#status-link")
    page.wait_for_url("**/frontdesk/ui?token=*")
    # The page polls the admin API (through /frontdesk/status) and fills its tables.
    page.wait_for_function(
        "[...document.querySelectorAll('#apps tr')].filter("
        "tr => tr.textContent.includes('planner')).length === 2"
    )
    page.wait_for_function("document.querySelector('#backends').textContent.includes('planner')")
    page.wait_for_timeout(2500)  # a few polls: the charts have points to draw
    screenshot(page, "status", full_page=True)
