"""Rolling replacement of app instances under load: not one request fails.

Four instances of the standard-library app behind two workers; four clients on
kept-alive connections send GETs and POSTs with bodies (each answer checked: a POST's
carries the length and digest of its body) while the instances are replaced again and
again (ROLLS or RELOADS times, and for at least MIN_LOAD_SECONDS), by `frontdesk restart web` or
by `frontdesk reload` after a change of the app's env. The load starts a second before
the first roll and goes on a second after the last. Counts are printed (run with -s to
see them).
"""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest
from app_helpers import Load, app_routes, app_rows, wait_apps

ROLLS = 3  # rolling restarts of every instance, one after the other (~2 s each)
RELOADS = 2  # reloads with a new env (~4 s each: each instance's start is awaited)
MIN_LOAD_SECONDS = 6.0
INSTANCES = 4


def _cli(srv, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "frontdesk", *args, "-c", str(srv.config_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _set_version(srv, version: str) -> None:
    text = srv.config_path.read_text()
    text = re.sub(r'"APP_VERSION" = "v\d+"', f'"APP_VERSION" = "{version}"', text)
    srv.config_path.write_text(text)


@pytest.mark.slow
def test_rolling_restart_of_four_instances_under_load_fails_nothing(server) -> None:
    srv = server(app_routes(instances=INSTANCES, env={"APP_VERSION": "v1"}), workers=2)
    first = {r["pid"] for r in wait_apps(srv, INSTANCES)}
    restarts = []
    with Load(srv) as load:
        began = time.monotonic()
        time.sleep(1.0)
        while len(restarts) < ROLLS or time.monotonic() - began < MIN_LOAD_SECONDS - 1:
            t = time.monotonic()
            done = _cli(srv, "restart", "web")
            assert done.returncode == 0, done.stderr
            restarts.append(time.monotonic() - t)
        time.sleep(1.0)
        seconds = time.monotonic() - began
    report = load.report(
        f"{len(restarts)} rolling restarts of {INSTANCES} instances "
        f"(each {min(restarts):.1f}-{max(restarts):.1f}s) under {seconds:.1f}s of load"
    )
    rows = wait_apps(srv, INSTANCES)
    assert load.failed == [], report
    assert len(restarts) >= ROLLS and load.total > 300, report
    assert not first & {r["pid"] for r in rows}  # every instance was replaced
    assert all(r["restarts"] == len(restarts) for r in rows)


@pytest.mark.slow
def test_reload_after_changing_env_rolls_under_load_and_fails_nothing(server) -> None:
    srv = server(app_routes(instances=INSTANCES, env={"APP_VERSION": "v1"}), workers=2)
    wait_apps(srv, INSTANCES)
    version = 1
    with Load(srv) as load:
        began = time.monotonic()
        time.sleep(1.0)
        while version - 1 < RELOADS or time.monotonic() - began < MIN_LOAD_SECONDS - 1:
            version += 1
            _set_version(srv, f"v{version}")
            done = _cli(srv, "reload")
            assert done.returncode == 0, done.stderr
            assert "reloaded" in done.stdout
        time.sleep(1.0)
        seconds = time.monotonic() - began
    report = load.report(
        f"{version - 1} reloads with a new env (rolling, {INSTANCES} instances) under "
        f"{seconds:.1f}s of load"
    )
    assert load.failed == [], report
    assert version - 1 >= RELOADS and load.total > 300, report
    # Every version served in turn, and the last one by every instance now.
    assert set(load.ok) == {f"v{n}" for n in range(1, version + 1)}, report
    assert {r["pid"] for r in app_rows(srv)} and srv.get("/")[1].split()[
        1
    ] == f"v{version}".encode()
