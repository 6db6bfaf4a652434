"""Heroku-style hosts and no orphans.

* `frontdesk serve` with $PORT set accepts on it within a second, and answers 503 +
  Retry-After with the starting page until the app is ready; the first proxied 200
  comes within a second of the app accepting connections.
* `kill -9` of the master: every worker, the keeper and every app process (gunicorn's
  own workers too) is gone within 2 s, checked in the process table; a new frontdesk
  then starts on the same port.
* examples/heroku/ run by honcho (as Heroku runs a Procfile) with $PORT set: the app
  answers through frontdesk, and SIGTERM to honcho stops everything within 30 s.

Figures are printed (run with -s). The 1 s bounds hold on an idle machine; on one where
processes wait for a core they scale with how much slower a Python start is right
then (measured: wall over CPU time of an import; the figure printed says so).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from app_helpers import APPS, STDLIB_APP, app_routes, descendants, describe, wait_apps, wait_gone
from proc_helpers import free_port

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "heroku"
VENV_BIN = Path(sys.executable).parent


def _slowdown() -> float:
    """How much slower than on an idle machine a Python process starts right now: the
    wall time over the CPU time of `import frontdesk.cli` in a child (1 when it had a
    core to itself; 3 when it waited for one two thirds of the time)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.monotonic()
    subprocess.run([sys.executable, "-c", "import frontdesk.cli"], check=True)
    wall = time.monotonic() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return max(1.0, wall / max(cpu, 1e-3))


def _get(port: int, path: str = "/", timeout: float = 2.0) -> tuple[int, dict[str, str], bytes]:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def test_port_bound_within_a_second_and_first_200_within_a_second_of_ready(
    tmp_path: Path,
) -> None:
    port = free_port()
    ready_file = tmp_path / "ready"
    cfg = tmp_path / "frontdesk.toml"
    cfg.write_text(
        '[server]\nlisten = ["127.0.0.1:8080"]\nworkers = 2\naccess_log = "off"\n'
        + app_routes(env={"APP_START_DELAY": "2", "APP_READY_FILE": str(ready_file)}, instances=1)
    )
    env = {**os.environ, "PORT": str(port)}
    slow = _slowdown()
    err = open(tmp_path / "stderr", "wb")  # noqa: SIM115
    began = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "frontdesk", "serve", "-c", str(cfg)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=err,
        cwd=tmp_path,
    )
    try:
        import socket

        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() - began < 20 and proc.poll() is None
                time.sleep(0.005)
        accepting = time.monotonic() - began
        accepting_at = time.time()
        while True:
            try:
                status, headers, body = _get(port)
                break
            except OSError:
                time.sleep(0.005)
        answered = time.monotonic() - began
        assert status == 503 and headers["retry-after"] == "2", (status, body)
        assert b"Starting up" in body and headers["cache-control"] == "no-store"
        while status != 200:
            assert time.monotonic() - began < 30, (tmp_path / "stderr").read_text()
            time.sleep(0.01)
            status, _, body = _get(port)
        first_200 = time.time()
        app_ready = float(ready_file.read_text().split()[0])
        print(
            f"$PORT accepting {accepting:.3f}s after `frontdesk serve`, first answer (503 "
            f"starting page) at {answered:.3f}s; app ready after a 2 s start, first proxied "
            f"200 {first_200 - app_ready:.3f}s later (machine x{slow:.1f} slower than idle)"
        )
        # What Heroku's boot timeout needs: $PORT is bound before the app is ready, not
        # after (the app takes 2 s here). How fast frontdesk binds is a figure for
        # bench/bind_time.py, not a timed assertion: this machine's Python start moves
        # by half between hours, and wall over CPU time only sees waiting for a core.
        assert accepting_at < app_ready, (accepting_at, app_ready)
        assert accepting < 5.0 * slow
        assert first_200 - app_ready < 2.0 * slow
    finally:
        proc.terminate()
        proc.wait(30)
        err.close()


def test_starting_page_from_the_config(server, tmp_path: Path) -> None:
    page = tmp_path / "wait.html"
    page.write_text("<p>one moment</p>")
    srv = server(
        app_routes(env={"APP_START_DELAY": "30"}, instances=1),
        starting_page=str(page),
    )
    resp, body = srv.get("/")
    assert resp.status == 503 and body == b"<p>one moment</p>"
    assert resp.getheader("Retry-After") == "2"


@pytest.mark.slow
def test_kill_9_of_the_master_leaves_no_process(server) -> None:
    gunicorn = [sys.executable, "-m", "gunicorn", "-b", "127.0.0.1:$PORT", "-w", "2"]
    gunicorn += ["--chdir", str(APPS), "wsgi_app:app"]
    routes = app_routes(gunicorn, instances=2)
    routes += f'\n[app.plain]\ncommand = ["{sys.executable}", "{STDLIB_APP}"]\ninstances = 2\n'
    srv = server(routes, workers=2)
    wait_apps(srv, 2)
    wait_apps(srv, 2, app="plain")
    time.sleep(1.0)  # gunicorn's workers are up
    tree = descendants(srv.proc.pid)
    # 2 workers + the keeper + 2 gunicorn masters with 2 workers each + 2 plain instances
    assert len(tree) >= 11, describe(tree)
    os.kill(srv.proc.pid, signal.SIGKILL)
    srv.proc.wait(5)
    took, left = wait_gone(tree, 5.0)
    print(f"kill -9 of the master: {len(tree)} processes below it, all gone in {took:.3f}s")
    assert not left, describe(left)
    assert took < 2.0
    # Nothing holds the port: a new frontdesk starts on it, with the same config.
    again = subprocess.Popen(
        [sys.executable, "-m", "frontdesk", "serve", "-c", str(srv.config_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if _get(srv.port)[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline and again.poll() is None
            time.sleep(0.05)
    finally:
        again.terminate()
        again.wait(30)


@pytest.mark.slow
def test_heroku_example_under_honcho(tmp_path: Path) -> None:
    app_dir = tmp_path / "app"
    shutil.copytree(EXAMPLE, app_dir)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK")}
    env.update(PORT=str(port), PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}")
    out = open(tmp_path / "honcho.out", "wb")  # noqa: SIM115
    honcho = subprocess.Popen(
        [str(VENV_BIN / "honcho"), "start"],
        cwd=app_dir,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        status, body = 0, b""
        while status != 200:
            assert honcho.poll() is None, (tmp_path / "honcho.out").read_text()
            assert time.monotonic() < deadline, (tmp_path / "honcho.out").read_text()
            try:
                status, _, body = _get(port)
            except OSError:
                pass
            time.sleep(0.1)
        assert b"Hello from web." in body
        status, headers, css = _get(port, "/static/style.css")
        assert status == 200 and b"font-family" in css
        assert headers["cache-control"] == "public, max-age=3600"
        tree = descendants(honcho.pid)
        assert len(tree) >= 8, describe(tree)  # sh, master, 2 workers, keeper, 2 gunicorns ...
        began = time.monotonic()
        honcho.send_signal(signal.SIGTERM)
        honcho.wait(30)
        took, left = wait_gone(tree, 30.0)
        took = max(took, time.monotonic() - began)
        print(f"honcho SIGTERM: {len(tree)} processes, all gone in {took:.2f}s")
        assert not left, describe(left)
        assert took < 30.0
        log = (tmp_path / "honcho.out").read_text()
        # honcho's prefix, then frontdesk's for the app's own output
        assert re.search(r"web\.1 +\| web\.1 \| ", log), log
        written = {p.relative_to(app_dir).parts[0] for p in app_dir.rglob("*")}
        assert written <= {*(p.name for p in EXAMPLE.iterdir()), "__pycache__"}, written
    finally:
        if honcho.poll() is None:
            honcho.kill()
            honcho.wait()
        out.close()
