"""Apps run by the master: answers through frontdesk, prefixed output, status rows,
restarts after an exit, the crash-loop error, Unix sockets, and reload plans."""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest
from app_helpers import STDLIB_APP, app_routes, app_rows, wait_apps


def test_stdlib_app_answers_through_frontdesk_and_its_output_is_prefixed(server) -> None:
    srv = server(app_routes(instances=2), workers=2)
    rows = wait_apps(srv, 2)
    names = set()
    for _ in range(20):
        resp, body = srv.get("/")
        assert resp.status == 200
        names.add(body.split()[0])
    assert names == {b"web.1", b"web.2"}  # both instances in the pool
    out = srv.stdout_text()
    for r in rows:
        assert f"{r['instance']} | {r['instance']} v1 listening on port {r['port']}" in out
    conn = srv.http()
    conn.request("POST", "/upload", body=b"x" * 1000)
    assert conn.getresponse().read().split()[2] == b"1000"
    conn.close()
    deadline = time.monotonic() + 5
    while "| POST /upload 1000 bytes" not in srv.stdout_text():
        assert time.monotonic() < deadline, srv.stdout_text()
        time.sleep(0.05)


def test_status_lists_each_instance(server) -> None:
    srv = server(app_routes(instances=2), workers=1)
    rows = wait_apps(srv, 2)
    for r in rows:
        assert r["pid"] and r["state"] == "ready" and r["restarts"] == 0
        assert r["address"] == f"127.0.0.1:{r['port']}" and r["pool"] == "web"
        os.kill(r["pid"], 0)  # a live process
    done = srv.cli("status")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    header = lines.index("apps") + 1
    assert lines[header].split() == ["instance", "pid", "state", "up", "restarts", "port"]
    table = [line.split() for line in lines[header + 1 : header + 3]]
    assert [row[0] for row in table] == ["web.1", "web.2"]
    assert [row[1] for row in table] == [str(r["pid"]) for r in rows]
    assert [row[5] for row in table] == [str(r["port"]) for r in rows]
    assert all(row[2] == "ready" for row in table)
    assert '"apps"' in srv.cli("status", "--json").stdout


def test_an_instance_that_exits_is_started_again(server) -> None:
    srv = server(app_routes(instances=2), workers=1)
    first = {r["instance"]: r for r in wait_apps(srv, 2)}
    os.kill(first["web.1"]["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 15
    while True:
        rows = {r["instance"]: r for r in app_rows(srv)}
        r = rows["web.1"]
        if r["state"] == "ready" and r["pid"] != first["web.1"]["pid"]:
            break
        assert time.monotonic() < deadline, rows
        time.sleep(0.05)
    assert r["restarts"] == 1 and r["port"] != first["web.1"]["port"]
    assert rows["web.2"]["pid"] == first["web.2"]["pid"]  # the other one untouched
    assert "app web: web.1 exited with status -9; starting it again in 1s" in srv.stderr_text()
    assert srv.get("/")[0].status == 200


@pytest.mark.slow
def test_a_crash_loop_stops_with_one_loud_error(server) -> None:
    srv = server(app_routes(instances=1, env={"APP_EXIT_AT_START": "3"}), workers=1)
    deadline = time.monotonic() + 40  # backoff 1 + 2 + 4 + 8 s, and the starts
    rows: list = []
    while not rows or rows[0]["state"] != "failed":
        assert time.monotonic() < deadline, rows
        time.sleep(0.1)
        try:
            rows = app_rows(srv)
        except OSError:  # the admin socket opens once the workers are ready
            rows = []
    assert rows[0]["restarts"] == 4 and rows[0]["exit_status"] == 3 and rows[0]["pid"] is None
    log = srv.stderr_text()
    errors = [line for line in log.splitlines() if "CRASH LOOP" in line]
    assert len(errors) == 1, log
    assert "app web: CRASH LOOP: web.1 exited with status 3, 5 times in a row" in errors[0]
    assert "web.1: failing at start on purpose (status 3)" in log.split("CRASH LOOP")[1]
    resp, body = srv.get("/")  # no instance: the starting page
    assert resp.status == 503 and resp.getheader("Retry-After") == "2"


def test_unix_socket_instances(server) -> None:
    srv = server(app_routes(instances=2, extra='bind = "unix"'), workers=1)
    rows = wait_apps(srv, 2)
    paths = [r["address"].removeprefix("unix:") for r in rows]
    assert all(r["port"] is None and r["address"].startswith("unix:/") for r in rows)
    assert all(os.path.exists(p) for p in paths)
    assert {srv.get("/")[1].split()[0] for _ in range(10)} == {b"web.1", b"web.2"}
    assert "listening on unix:" in srv.stdout_text()
    srv.stop()
    assert not any(os.path.exists(p) for p in paths)  # removed with their instances


def test_pool_with_unix_servers(server, backends) -> None:
    import tempfile

    path = f"{tempfile.gettempdir()}/fd-apps-test-{os.getpid()}.sock"
    b = backends("sock", unix=path)
    srv = server(f'[[route]]\nproxy = {{ pool = "p" }}\n[pool.p]\nservers = ["{b.address}"]\n')
    resp, _ = srv.get("/echo")
    assert resp.status == 200 and resp.getheader("X-Backend") == "sock"


def test_reload_changes_only_what_changed(server) -> None:
    """`instances` 2 → 3 adds web.3 and touches no other; an unchanged app is not
    touched; then 3 → 1 stops web.2 and web.3 only."""
    routes = app_routes(instances=2)
    other = f'\n[app.other]\ncommand = ["{sys.executable}", "{STDLIB_APP}"]\n'
    srv = server(routes + other, workers=1)
    before = {r["instance"]: r["pid"] for r in wait_apps(srv, 2)}
    other_pid = wait_apps(srv, 1, app="other")[0]["pid"]
    srv.config_path.write_text(
        srv.config_path.read_text().replace("instances = 2", "instances = 3")
    )
    done = srv.cli("reload")
    assert done.returncode == 0, done.stderr
    after = {r["instance"]: r["pid"] for r in wait_apps(srv, 3)}
    assert {k: after[k] for k in before} == before and after["web.3"] not in before.values()
    assert app_rows(srv, "other")[0]["pid"] == other_pid
    srv.config_path.write_text(
        srv.config_path.read_text().replace("instances = 3", "instances = 1")
    )
    assert srv.cli("reload").returncode == 0
    assert {r["instance"]: r["pid"] for r in wait_apps(srv, 1)} == {"web.1": before["web.1"]}
    assert app_rows(srv, "other")[0]["pid"] == other_pid
    for pid in (after["web.2"], after["web.3"]):
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_a_new_instance_never_ready_is_stopped_and_the_old_keep_serving(server) -> None:
    srv = server(app_routes(instances=2, extra='start_timeout = "2s"'), workers=1)
    before = {r["pid"] for r in wait_apps(srv, 2)}
    text = srv.config_path.read_text()
    srv.config_path.write_text(
        text.replace("[app.web]", '[app.web]\nenv = { APP_START_DELAY = "60" }')
    )
    t = time.monotonic()
    done = srv.cli("reload")
    took = time.monotonic() - t
    assert done.returncode == 1, done.stdout
    assert "new instance web.1 was not ready within 2s (start_timeout)" in done.stderr
    assert "the old instances keep serving" in done.stderr and took < 10
    assert {r["pid"] for r in wait_apps(srv, 2)} == before
    assert srv.get("/")[0].status == 200
    # `frontdesk restart` says the same, and exits non-zero too.
    srv.config_path.write_text(text)
    assert srv.cli("reload").returncode == 0  # back to the config that works
    bad = srv.cli("restart", "nope")
    assert bad.returncode == 2 and "no app 'nope'" in bad.stderr


def test_an_app_flooding_its_output_into_a_full_stdout_stalls_nothing(tmp_path) -> None:
    """frontdesk's stdout is a pipe nobody reads (it fills in a moment) while the app
    prints without pause: requests and the admin API are still answered at once; the
    lines that do not fit are dropped, not buffered without bound."""
    import subprocess

    from app_helpers import app_rows as rows_of
    from proc_helpers import free_port

    port = free_port()
    cfg = tmp_path / "f.toml"
    cfg.write_text(
        f'[server]\nlisten = ["127.0.0.1:{port}"]\nworkers = 1\naccess_log = "off"\n'
        + app_routes(instances=1, env={"APP_SPAM": "1"})
    )
    err = open(tmp_path / "stderr", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "frontdesk", "serve", "-c", str(cfg)],
        stdout=subprocess.PIPE,  # never read
        stderr=err,
    )

    class Srv:
        pass

    srv = Srv()
    srv.port = port  # type: ignore[attr-defined]
    try:
        import http.client

        deadline = time.monotonic() + 30
        status = 0
        while status != 200:
            assert time.monotonic() < deadline and proc.poll() is None
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/")
                status = conn.getresponse().status
                conn.close()
            except OSError:
                time.sleep(0.1)
        time.sleep(2.0)  # the pipe is long full by now
        slowest = 0.0
        for _ in range(20):
            t = time.monotonic()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/")
            assert conn.getresponse().status == 200
            conn.close()
            slowest = max(slowest, time.monotonic() - t)
        assert slowest < 1.0, slowest
        assert rows_of(srv)[0]["state"] == "ready"  # the master's loop answers too
    finally:
        proc.terminate()
        proc.wait(30)
        assert proc.stdout is not None
        proc.stdout.close()
        err.close()


def test_reload_with_a_new_cwd_switches_releases(server, tmp_path) -> None:
    """How a deploy switches releases: the command is relative to `cwd`, and a reload
    that points `cwd` at the new release replaces the instances one by one."""
    for version in ("v1", "v2"):
        release = tmp_path / "releases" / version
        release.mkdir(parents=True)
        text = STDLIB_APP.read_text().replace('"APP_VERSION", "v1"', f'"APP_VERSION", "{version}"')
        (release / "app.py").write_text(text)
    v1, v2 = (tmp_path / "releases" / v for v in ("v1", "v2"))
    routes = app_routes([sys.executable, "app.py"], instances=2, extra=f'cwd = "{v1}"')
    srv = server(routes, workers=1)
    before = {r["pid"] for r in wait_apps(srv, 2)}
    assert srv.get("/")[1].split()[1] == b"v1"
    srv.config_path.write_text(srv.config_path.read_text().replace(str(v1), str(v2)))
    done = srv.cli("reload")
    assert done.returncode == 0, done.stderr
    rows = wait_apps(srv, 2)
    assert not before & {r["pid"] for r in rows}
    assert {srv.get("/")[1].split()[1] for _ in range(6)} == {b"v2"}
