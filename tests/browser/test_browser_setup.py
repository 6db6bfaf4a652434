"""The browser set-up itself: Debian's Chromium starts, loads a page frontdesk serves,
reports console errors to the fixture and saves a screenshot under artifacts/."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

PAGE = """<!doctype html><meta charset="utf-8"><title>fd</title><link rel="icon" href="data:,">
<p id="x">hello</p><script>document.getElementById("x").textContent = "from script";</script>
"""


def test_chromium_loads_a_page_and_saves_a_screenshot(
    server: Callable[..., Any], page: object, screenshot: Callable[..., Path]
) -> None:
    body = PAGE.replace('"', '\\"').replace("\n", "\\n")
    srv = server(
        f"""
[[route]]
match = {{ exact = "/" }}
respond = {{ status = 200, body = "{body}", headers = {{ "Content-Type" = "text/html" }} }}
"""
    )
    page.goto(srv.url + "/")  # type: ignore[attr-defined]
    assert page.title() == "fd"  # type: ignore[attr-defined]
    assert page.text_content("#x") == "from script"  # type: ignore[attr-defined]
    path = screenshot(page, "hello")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.parent.name == "artifacts"


def test_console_errors_are_collected(page: object, console_errors: list[str]) -> None:
    page.goto("data:text/html,<title>e</title>")  # type: ignore[attr-defined]
    page.evaluate("console.error('boom'); setTimeout(() => { throw new Error('late') }, 0)")  # type: ignore[attr-defined]
    page.wait_for_timeout(200)  # type: ignore[attr-defined]
    assert any("boom" in e for e in console_errors), console_errors
    assert any("late" in e for e in console_errors), console_errors
    console_errors.clear()  # seen: the fixture would otherwise fail this test
