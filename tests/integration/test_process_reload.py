"""Reload: SIGHUP or `frontdesk reload` swaps in a new config without failing a request;
a broken config is refused with its location and the old one keeps serving."""

from __future__ import annotations

import http.client
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from proc_helpers import Server, config_text, free_port, read_response


@contextmanager
def traffic(srv: Server, keepalive: bool = False) -> Iterator[dict[str, list[object]]]:
    """Requests in a loop from one thread while the block runs; records what came back."""
    seen: dict[str, list[object]] = {"ok": [], "failed": []}
    stop = threading.Event()

    def run() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
        try:
            while not stop.is_set():
                try:
                    conn.request("GET", "/")
                    resp = conn.getresponse()
                    body = resp.read()
                    if resp.status == 200:
                        seen["ok"].append(body)
                    else:
                        seen["failed"].append((resp.status, body))
                except (OSError, http.client.HTTPException) as exc:
                    seen["failed"].append(repr(exc))
                    conn.close()
                if not keepalive:
                    conn.close()
        finally:
            conn.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join(10)
        assert not thread.is_alive()


def _rewrite(srv: Server, text: str) -> None:
    assert srv.config is not None
    srv.config.write_text(text)


def _settled(seen: dict[str, list[object]], body: bytes, timeout: float = 10.0) -> None:
    """Until the traffic's last few answers are all `body`: the old workers may take a
    moment (a loaded machine) to get the drain message and close their connections."""
    deadline = time.monotonic() + timeout
    while seen["ok"][-5:] != [body] * 5:
        assert time.monotonic() < deadline, f"still not only {body!r}: {seen['ok'][-5:]}"
        time.sleep(0.05)


def test_sighup_serves_the_new_config_without_failing_a_request(
    serve: Callable[..., Server],
) -> None:
    port = free_port()
    srv = serve(config_text(port, body="v1"), port)
    old_workers = srv.wait_workers(2)
    with traffic(srv) as seen:
        time.sleep(0.2)
        mark = srv.log_size()
        _rewrite(srv, config_text(port, body="v2"))
        srv.signal(signal.SIGHUP)
        srv.wait_log("reloaded: generation 2", start=mark)
        srv.wait_body(b"v2")
        _settled(seen, b"v2")
    assert seen["failed"] == []
    assert {b"v1", b"v2"} <= set(seen["ok"])  # type: ignore[arg-type]
    assert seen["ok"][-1] == b"v2"
    # The old generation drains away; a new one of the same size replaces it.
    new_workers = srv.wait_workers(2)
    assert not set(new_workers) & set(old_workers)


def test_reload_command_signals_the_master_via_the_pid_file(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    port = free_port()
    pid_file = tmp_path / "frontdesk.pid"
    srv = serve(config_text(port, body="v1", pid_file=pid_file), port)
    assert pid_file.read_text().strip() == str(srv.pid)
    with traffic(srv, keepalive=True) as seen:
        _rewrite(srv, config_text(port, body="v2", pid_file=pid_file))
        done = subprocess.run(
            [sys.executable, "-m", "frontdesk", "reload", "-c", str(srv.config)],
            capture_output=True,
            timeout=20,
        )
        assert done.returncode == 0, done.stderr
        assert str(srv.pid).encode() in done.stdout
        srv.wait_body(b"v2")
        _settled(seen, b"v2")
    assert seen["failed"] == []
    assert seen["ok"][-1] == b"v2"


def test_reload_command_without_a_running_server_fails(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(config_text(free_port(), pid_file=tmp_path / "none.pid"))
    done = subprocess.run(
        [sys.executable, "-m", "frontdesk", "reload", "-c", str(cfg)],
        capture_output=True,
        timeout=20,
    )
    assert done.returncode == 1
    assert b"none.pid" in done.stderr


BROKEN = {
    # name: (text appended to a good config, what the log must name)
    "toml-syntax": ('\n[[route]]\nrespond = { body = "x" \n', "TOML syntax"),
    "unknown-key": ("\n[[route]]\nrespond = { bdoy = 'x' }\n", "did you mean 'body'"),
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_config_is_refused_and_the_old_one_keeps_serving(
    serve: Callable[..., Server], kind: str
) -> None:
    port = free_port()
    good = config_text(port, body="v1")
    srv = serve(good, port)
    workers = srv.wait_workers(2)
    suffix, what = BROKEN[kind]
    broken = config_text(port, body="v2") + suffix
    line = broken.count("\n", 0, broken.rindex("respond")) + 1  # the broken line
    mark = srv.log_size()
    with traffic(srv) as seen:
        _rewrite(srv, broken)
        srv.signal(signal.SIGHUP)
        log = srv.wait_log("the running config stays in effect", start=mark)
        time.sleep(0.3)
    assert f"{srv.config}:{line}" in log, log
    assert what in log, log
    if kind == "unknown-key":
        assert "route[2].respond.bdoy" in log, log
    assert srv.proc.poll() is None
    assert seen["failed"] == []
    assert set(seen["ok"]) == {b"v1"}
    assert srv.get() == (200, b"v1")
    assert srv.workers() == workers  # nothing was restarted
    # ...and once the file is fixed, a reload goes through.
    _rewrite(srv, config_text(port, body="v3"))
    srv.signal(signal.SIGHUP)
    srv.wait_body(b"v3")


def test_request_whose_body_is_still_arriving_during_reload_completes(
    serve: Callable[..., Server],
) -> None:
    port = free_port()
    srv = serve(config_text(port, body="v1", workers=1), port)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert read_response(sock)[::2] == (200, b"v1")
        sock.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n012")
        time.sleep(0.2)
        mark = srv.log_size()
        _rewrite(srv, config_text(port, body="v2", workers=1))
        srv.signal(signal.SIGHUP)
        srv.wait_log("reloaded: generation 2", start=mark)
        time.sleep(1.5)  # longer than the idle grace of a draining worker
        for b in b"3456789":
            sock.sendall(bytes([b]))
            time.sleep(0.05)
        status, _, body = read_response(sock)
        assert (status, body) == (200, b"v1")  # answered by the old generation
    srv.wait_body(b"v2")


def test_idle_keepalive_connection_is_closed_by_a_draining_worker(
    serve: Callable[..., Server],
) -> None:
    port = free_port()
    srv = serve(config_text(port, body="v1", workers=1), port)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert read_response(sock)[0] == 200
        mark = srv.log_size()
        _rewrite(srv, config_text(port, body="v2", workers=1))
        srv.signal(signal.SIGHUP)
        srv.wait_log("reloaded: generation 2", start=mark)
        started = time.monotonic()
        sock.settimeout(5)
        assert sock.recv(100) == b""
        assert time.monotonic() - started < 3.0


def test_connection_busy_at_reload_is_closed_after_its_request(
    serve: Callable[..., Server],
) -> None:
    port = free_port()
    srv = serve(config_text(port, body="v1", workers=1), port)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\n01")
        time.sleep(0.2)
        mark = srv.log_size()
        _rewrite(srv, config_text(port, body="v2", workers=1))
        srv.signal(signal.SIGHUP)
        srv.wait_log("reloaded: generation 2", start=mark)
        sock.sendall(b"23")
        status, headers, body = read_response(sock)
        assert (status, body) == (200, b"v1")
        started = time.monotonic()
        sock.settimeout(6)
        assert sock.recv(100) == b""
        assert time.monotonic() - started < 3.0


@pytest.mark.slow
def test_reload_under_load_fails_no_request(serve: Callable[..., Server]) -> None:
    """8 keep-alive clients for ~5 s while the config is reloaded 3 times."""
    port = free_port()
    bodies = [b"v1", b"v2", b"v3", b"v4"]
    srv = serve(config_text(port, body="v1"), port)
    stop = threading.Event()
    lock = threading.Lock()
    counts = {"requests": 0}
    failures: list[object] = []
    # Per thread: (monotonic time the response was complete, body).
    answers: list[list[tuple[float, bytes]]] = [[] for _ in range(8)]

    def client(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            while not stop.is_set():
                try:
                    conn.request("GET", f"/load/{i}")
                    resp = conn.getresponse()
                    body = resp.read()
                    if resp.status != 200:
                        failures.append((resp.status, body))
                    answers[i].append((time.monotonic(), body))
                except Exception as exc:  # any exception is a failed request
                    failures.append(repr(exc))
                    conn.close()
                with lock:
                    counts["requests"] += 1
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(8)]
    started = time.monotonic()
    for t in threads:
        t.start()
    last_reload = 0.0
    for n, body in enumerate(bodies[1:], start=2):
        time.sleep(1.0)
        mark = srv.log_size()
        _rewrite(srv, config_text(port, body=body.decode()))
        srv.signal(signal.SIGHUP)
        srv.wait_log(f"reloaded: generation {n}", start=mark)
        last_reload = time.monotonic()
    # Run at least 5 s in all, and on for a while after the last reload (on a busy
    # machine a generation takes longer to start).
    now = time.monotonic()
    time.sleep(max(0.0, 5.0 - (now - started), last_reload + 2.0 - now))
    stop.set()
    for t in threads:
        t.join(15)
    assert not any(t.is_alive() for t in threads)
    total = counts["requests"]
    print(f"reload under load: {total} requests, {len(failures)} failed")
    assert failures == [], failures[:10]
    assert total > 1000
    # Once the last generation is serving and the old ones had time to say
    # "Connection: close", every answer carries the last body.
    settle = last_reload + 1.0
    late = [body for thread in answers for (t, body) in thread if t > settle]
    assert late and set(late) == {bodies[-1]}
    assert srv.proc.poll() is None
