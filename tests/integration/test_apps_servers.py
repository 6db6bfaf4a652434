"""Any HTTP app works: a WSGI app under gunicorn, an ASGI app under uvicorn (the
standard-library one is in test_apps_lifecycle.py and test_apps_rolling.py). Each
answers through frontdesk, its output appears prefixed in the log, and it survives
rolling restarts under load with no failed request."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from app_helpers import APPS, Load, app_routes, wait_apps

SERVERS = {
    # gunicorn with two sync workers per instance: a process tree of its own.
    "gunicorn": (
        [sys.executable, "-m", "gunicorn", "-b", "127.0.0.1:$PORT", "-w", "2"]
        + ["--chdir", str(APPS), "--graceful-timeout", "5", "wsgi_app:app"],
        "Booting worker with pid",
        "wsgi",
    ),
    "uvicorn": (
        [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", "$PORT"]
        + ["--app-dir", str(APPS), "asgi_app:app"],
        "asgi app started",
        "asgi",
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SERVERS))
def test_app_server_answers_logs_and_survives_rolling_restarts(server, name: str) -> None:
    command, logged, kind = SERVERS[name]
    srv = server(app_routes(command, instances=2, env={"APP_VERSION": "v1"}), workers=2)
    rows = wait_apps(srv, 2)
    resp, body = srv.get("/")
    assert resp.status == 200 and body.split()[3] == kind.encode(), body
    deadline = time.monotonic() + 5
    while not all(f"{r['instance']} | " in srv.stdout_text() for r in rows):
        assert time.monotonic() < deadline, srv.stdout_text()
        time.sleep(0.05)
    assert any(logged in line for line in srv.stdout_text().splitlines() if " | " in line)
    restarts = 0
    with Load(srv) as load:
        time.sleep(1.0)
        for _ in range(2):
            done = subprocess.run(
                [sys.executable, "-m", "frontdesk", "restart", "web", "-c", str(srv.config_path)],
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert done.returncode == 0, done.stderr
            restarts += 1
        time.sleep(1.0)
    report = load.report(f"{name}: {restarts} rolling restarts of 2 instances under load")
    assert load.failed == [], report
    assert load.total > 100, report
    assert not {r["pid"] for r in rows} & {r["pid"] for r in wait_apps(srv, 2)}
