"""The command line as a user runs it: check, $PORT, the embedded default, --version."""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from proc_helpers import Server, config_text, free_port

from frontdesk import __version__


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "frontdesk", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )


def test_version() -> None:
    done = run_cli("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"frontdesk {__version__}"


def test_check_good_file(tmp_path: Path) -> None:
    cfg = tmp_path / "good.toml"
    cfg.write_text(config_text(8080))
    done = run_cli("check", "-c", str(cfg))
    assert done.returncode == 0, done.stderr
    assert "ok (2 routes)" in done.stdout


BAD = """\
[server]
listen = ["127.0.0.1:8080"]
wokers = 2
header_timeout = "10 parsecs"
max_body_size = "1 gazillion"

[[route]]
respond = { body = "x" }
"""


def test_check_reports_every_mistake_with_line_key_and_suggestion(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(BAD)
    done = run_cli("check", "-c", str(cfg))
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert lines[-1] == "3 errors in the config", done.stderr
    typo, duration, size = lines[:3]
    assert typo.startswith(f"{cfg}:3: server.wokers: unknown key 'wokers'")
    assert "did you mean 'workers'?" in typo
    assert duration.startswith(f"{cfg}:4: server.header_timeout: ")
    assert "parsecs" in duration
    assert size.startswith(f"{cfg}:5: server.max_body_size: ")
    assert "gazillion" in size
    assert done.stdout == ""


def test_check_missing_file(tmp_path: Path) -> None:
    done = run_cli("check", "-c", str(tmp_path / "nope.toml"))
    assert done.returncode == 2
    assert "nope.toml" in done.stderr and "cannot read" in done.stderr


def test_port_env_replaces_the_configured_port(serve: Callable[..., Server]) -> None:
    configured = free_port()
    port = free_port()
    srv = serve(config_text(configured), port, env={"PORT": str(port)})
    assert srv.get() == (200, b"v1")
    assert f"127.0.0.1:{port}" in srv.stderr()
    assert f":{configured}" not in srv.stderr()


def test_invalid_port_env_is_a_config_error(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(config_text(free_port()))
    env = {**os.environ, "PORT": "http"}
    done = run_cli("serve", "-c", str(cfg), env=env)
    assert done.returncode == 2
    assert "PORT" in done.stderr


def test_serve_without_config_shows_the_welcome_page(serve: Callable[..., Server]) -> None:
    port = free_port()
    srv = serve(None, port, env={"PORT": str(port)})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/")
        resp = conn.getresponse()
        body = resp.read().decode()
        assert resp.status == 200
        assert resp.getheader("Content-Type") == "text/html; charset=utf-8"
    finally:
        conn.close()
    assert "frontdesk is running" in body
    assert "Configuration" in body
    assert "frontdesk check -c" in body
    # Any path gets the page: the default config has one catch-all route.
    assert srv.get("/some/where")[0] == 200
