"""The status page in headless Chromium: it loads with no console error, draws its
charts, shows a backend going down within one health-check interval and coming back,
and fits a phone's screen. Screenshots go to artifacts/ (the path is printed)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

BACKENDS = Path(__file__).resolve().parents[1] / "integration" / "backends.py"
STDLIB_APP = BACKENDS.with_name("apps") / "stdlib_app.py"
INTERVAL = 1.0  # the pool's active health-check interval, seconds


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def two_backends() -> Iterator[list[int]]:
    procs, ports = [], []
    for name in ("page-a", "page-b"):
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, str(BACKENDS), "--name", name, "--port", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        procs.append(proc)
        ports.append(port)
    yield ports
    for proc in procs:
        proc.kill()
        proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return bytes(resp.read())


def test_status_page_shows_a_backend_down_and_back(
    server: Callable[..., Any],
    two_backends: list[int],
    page: Any,
    screenshot: Callable[..., Path],
) -> None:
    a, b = (f"127.0.0.1:{p}" for p in two_backends)
    admin_port = free_port()
    srv = server(
        f"""
[admin]
listen = "127.0.0.1:{admin_port}"

[[route]]
name = "app"
match = {{ path = "/c/" }}
proxy = {{ pool = "app" }}
cache = "main"

[pool.app]
servers = ["{a}", "{b}"]
health = {{ path = "/healthz", interval = "{INTERVAL}s", timeout = "500ms", fall = 1, rise = 1 }}

[cache.main]
memory = "8MB"

[[route]]
name = "web"
match = {{ path = "/web/" }}
proxy = {{ pool = "web", strip_prefix = "/web" }}

[app.web]
command = ["{sys.executable}", "{STDLIB_APP}"]
instances = 1
stop_timeout = "5s"
""",
        workers=2,
    )
    deadline = time.monotonic() + 10  # the master opens the admin API after the workers
    while True:
        try:
            get(f"http://127.0.0.1:{admin_port}/config")
            break
        except OSError:
            assert time.monotonic() < deadline, "the admin API never answered"
            time.sleep(0.05)
    stop = threading.Event()

    def traffic() -> None:  # a steady trickle, so the charts have something to draw
        i = 0
        while not stop.is_set():
            get(f"{srv.url}/c/page{i % 4}?cc=max-age%3D60")
            get(f"{srv.url}/c/echo?i={i}")
            i += 1
            time.sleep(0.02)

    thread = threading.Thread(target=traffic, daemon=True)
    thread.start()
    try:
        look(page, screenshot, admin_port, a, b)
    finally:
        stop.set()
        thread.join(5)


def look(page: Any, screenshot: Callable[..., Path], admin_port: int, a: str, b: str) -> None:
    page.goto(f"http://127.0.0.1:{admin_port}/ui")
    page.wait_for_function("Number(document.body.dataset.polls || 0) >= 3")
    for server_ in (a, b):
        state = page.locator(f'tr[data-server="{server_}"] .state')
        assert state.get_attribute("data-state") == "up"
    assert page.locator("#tile-cache .value").inner_text().endswith("%")
    assert page.locator("#tile-rate svg path").count() == 1
    assert page.locator(f'tr[data-server="{a}"] svg.history rect').count() >= 1

    get(f"http://{b}/_health?set=fail")  # b's /healthz now answers 503
    failed_at = time.monotonic()
    down = page.locator(f'tr[data-server="{b}"] .state[data-state="down"]')
    # The master's next check sees it (within INTERVAL), the page's next poll (every
    # INTERVAL / 2) shows it; the slack covers the check's own time on a busy machine.
    down.wait_for(timeout=(INTERVAL * 1.5 + 1.0) * 1000)
    shown_after = time.monotonic() - failed_at
    print(f"backend shown down {shown_after:.2f} s after its health check began failing")
    assert page.locator(f'tr[data-server="{a}"] .state').get_attribute("data-state") == "up"
    screenshot(page, "backend-down", full_page=True)

    get(f"http://{b}/_health?set=ok")
    page.locator(f'tr[data-server="{b}"] .state[data-state="up"]').wait_for(
        timeout=(INTERVAL * 1.5 + 1.0) * 1000
    )
    red = page.locator(f'tr[data-server="{b}"] svg.history rect.down').count()
    assert red >= 1  # the failed check stays in the row's history
    screenshot(page, "backend-back", full_page=True)

    # An app instance that dies is restarted by the master: the page counts it.
    app = page.locator('tr[data-app="web"]')
    app.locator('.state[data-state="ready"]').wait_for(timeout=30_000)
    assert app.locator(".restarts").inner_text() == "0"
    apps = json.loads(get(f"http://127.0.0.1:{admin_port}/apps"))["apps"]
    os.kill(apps[0]["pid"], signal.SIGKILL)
    page.locator('tr[data-app="web"] .restarts', has_text="1").wait_for(timeout=30_000)
    app.locator('.state[data-state="ready"]').wait_for(timeout=30_000)
    screenshot(page, "app-restarted", full_page=True)

    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.wait_for_timeout(600)
    fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    assert fits, "the page is wider than a phone's screen"
    screenshot(page, "phone", full_page=True)
