"""Browser fixtures: a real headless Chromium driven by Playwright's Python package.

The browser is Debian's `chromium` (`./dev test` installs it when missing); Playwright's
own browser builds are never downloaded (`playwright install` is not run), so the launch
names the executable. Each test gets a fresh profile directory, so nothing carries over.

- `page`: a Playwright `Page`. Every console message of type "error" and every uncaught
  page exception is collected; the test fails at teardown if there was any.
- `console_errors`: that list, for a test that wants to look at it before teardown.
- `screenshot(page, name)`: saves a PNG under `artifacts/` at the repo root (gitignored;
  CI keeps it as a test artefact), prints its path and lists it in the terminal summary.

The sync API runs its own event loop in a greenlet; the tests that use it are plain
(non-async) functions, so pytest-asyncio's auto mode has no loop running around them.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

_saved: list[Path] = []
_session_started = time.time()  # under xdist the summary lists what the workers saved


def _chromium() -> str:
    path = os.environ.get("FRONTDESK_CHROMIUM", CHROMIUM)
    if not os.access(path, os.X_OK):
        # A failure, not a skip: a browser test that silently does not run proves nothing.
        pytest.fail(f"{path} is missing: `./dev test` installs Debian's chromium")
    return path


@pytest.fixture
def console_errors() -> list[str]:
    return []


@pytest.fixture
def page(console_errors: list[str]) -> Iterator[object]:
    """A fresh page in a fresh Chromium profile; fails the test on any console error."""
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="fd-chromium-")
    try:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                profile,
                executable_path=_chromium(),
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": 1280, "height": 900},
            )
            try:
                pg = context.pages[0] if context.pages else context.new_page()
                pg.on(
                    "console",
                    lambda msg: (
                        console_errors.append(f"console.error: {msg.text} at {msg.location}")
                        if msg.type == "error"
                        else None
                    ),
                )
                pg.on("pageerror", lambda exc: console_errors.append(f"uncaught: {exc}"))
                yield pg
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert console_errors == [], "the page logged errors:\n" + "\n".join(console_errors)


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Callable[..., Path]:
    """screenshot(page, name, **kw) → the PNG's path under artifacts/ (printed)."""

    def take(pg: object, name: str, **kw: object) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{request.node.name}-{name}")
        path = ARTIFACTS / f"{stem}.png"
        pg.screenshot(path=str(path), **kw)  # type: ignore[attr-defined]
        assert path.stat().st_size > 0
        print(f"screenshot saved: {path}")
        _saved.append(path)
        return path

    return take


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    saved = _saved or sorted(
        p for p in ARTIFACTS.glob("*.png") if p.stat().st_mtime >= _session_started
    )
    if saved:
        terminalreporter.section("browser screenshots")
        for path in saved:
            terminalreporter.write_line(str(path))
