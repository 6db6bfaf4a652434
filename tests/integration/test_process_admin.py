"""The admin API and `frontdesk status`: the master answers for itself and its workers."""

from __future__ import annotations

import http.client
import json
import os
import socket
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from proc_helpers import Server, config_text, free_port

from frontdesk.master.admin import call

Serve = Callable[..., Server]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "frontdesk", *args], capture_output=True, text=True, timeout=30
    )


def socket_path(tmp_path: Path) -> str:
    return str(tmp_path / "admin.sock")


def with_admin(port: int, listen: str, workers: int = 2) -> str:
    return config_text(port, workers=workers) + f'\n[admin]\nlisten = "{listen}"\n'


def test_status_counts_every_request_of_every_worker(serve: Serve, tmp_path: Path) -> None:
    port = free_port()
    path = socket_path(tmp_path)
    srv = serve(with_admin(port, f"unix:{path}"), port=port)
    for _ in range(30):  # fixed answers (the fast lane) ...
        assert srv.get("/")[0] == 200
    for _ in range(7):  # ... and answers that go through the slower path (HEAD)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("HEAD", "/")
        assert conn.getresponse().status == 200
        conn.close()
    code, payload = call(path, "GET", "/status")
    assert code == 200
    assert payload["pid"] == srv.pid
    assert payload["generation"] == 1
    assert payload["listen"] == [f"127.0.0.1:{port}"]
    assert sorted(w["pid"] for w in payload["workers"]) == sorted(srv.workers())
    assert all(w["state"] == "running" and w["rss_bytes"] > 1_000_000 for w in payload["workers"])
    assert payload["totals"]["requests"] == 37
    assert payload["totals"]["requests"] == sum(w["requests"] for w in payload["workers"])


def test_status_command_prints_a_table_and_json(serve: Serve, tmp_path: Path) -> None:
    port = free_port()
    cfg = tmp_path / "with-admin.toml"
    cfg.write_text(with_admin(port, f"unix:{socket_path(tmp_path)}", workers=1))
    srv = serve(cfg.read_text(), port=port)
    srv.get("/")
    # The test server was started from its own copy of the text; status only needs
    # the admin address, which is the same in both.
    done = cli("status", "-c", str(cfg))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert f"master pid {srv.pid}" in lines[0]
    assert lines[4].split()[:3] == ["worker", "pid", "gen"]
    (worker,) = srv.workers()
    assert lines[5].split()[:4] == ["0", str(worker), "1", "running"]
    assert lines[6].split()[0] == "total"
    done = cli("status", "-c", str(cfg), "--json")
    assert json.loads(done.stdout)["totals"]["requests"] == 1


def test_status_without_a_running_server_says_so(tmp_path: Path) -> None:
    cfg = tmp_path / "none.toml"
    cfg.write_text(with_admin(free_port(), f"unix:{tmp_path / 'nobody.sock'}"))
    done = cli("status", "-c", str(cfg))
    assert done.returncode == 1
    assert "no running frontdesk answers at" in done.stderr
    assert "Traceback" not in done.stderr


def test_admin_socket_is_owner_only_and_removed_on_exit(serve: Serve, tmp_path: Path) -> None:
    path = socket_path(tmp_path)
    port = free_port()
    srv = serve(with_admin(port, f"unix:{path}", workers=1), port=port)
    mode = os.stat(path).st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
    srv.terminate()
    assert not os.path.exists(path)


def test_admin_on_loopback_tcp_and_errors_are_json(serve: Serve) -> None:
    admin_port, port = free_port(), free_port()
    serve(with_admin(port, f"127.0.0.1:{admin_port}", workers=1), port=port)
    address = ("127.0.0.1", admin_port)
    assert call(address, "GET", "/status")[0] == 200
    assert call(address, "GET", "/nope") == (404, {"error": "no such admin endpoint: /nope"})
    assert call(address, "DELETE", "/status") == (405, {"error": "method not allowed; use GET"})
    with socket.create_connection(address, timeout=5) as s:
        s.sendall(b"GET /status HTTP/1.1\r\nHost: x\r\nContent-Length: zz\r\n\r\n")
        answer = s.recv(65536)
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b'"error": "malformed request"' in answer


def test_reload_shows_the_new_generation(serve: Serve, tmp_path: Path) -> None:
    path = socket_path(tmp_path)
    port = free_port()
    srv = serve(with_admin(port, f"unix:{path}", workers=1), port=port)
    assert srv.config is not None
    srv.config.write_text(with_admin(port, f"unix:{path}", workers=1).replace("v1", "v2"))
    srv.signal(1)  # SIGHUP
    srv.wait_body(b"v2")
    code, payload = call(path, "GET", "/status")
    assert payload["generation"] == 2
    assert {w["generation"] for w in payload["workers"] if w["state"] == "running"} == {2}


@pytest.mark.parametrize("listen", ["0.0.0.0:9000", "10.1.2.3:9000", "unix:"])
def test_admin_listen_must_be_loopback_or_unix(tmp_path: Path, listen: str) -> None:
    cfg = tmp_path / "bad-admin.toml"
    cfg.write_text(f'[admin]\nlisten = "{listen}"\n')
    done = cli("check", "-c", str(cfg))
    assert done.returncode == 2
    assert done.stderr.startswith(f"{cfg}:2: admin.listen: ")
