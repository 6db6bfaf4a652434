"""Graceful shutdown: SIGTERM/SIGINT finish in-flight requests, refuse new ones, exit 0."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from proc_helpers import (
    Server,
    config_text,
    free_port,
    is_zombie_or_gone,
    port_open,
    read_response,
)

HEAD = b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n"


def _start_slow_post(srv: Server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    sock.sendall(HEAD + b"01")
    time.sleep(0.3)  # the worker has the head and is now reading the body
    return sock


def _send_rest_slowly(sock: socket.socket, rest: bytes = b"23456789", over: float = 1.0) -> None:
    for i in range(len(rest)):
        time.sleep(over / len(rest))
        sock.sendall(rest[i : i + 1])


def test_sigterm_lets_the_request_in_flight_finish(serve: Callable[..., Server]) -> None:
    port = free_port()
    srv = serve(config_text(port, workers=2), port)
    with _start_slow_post(srv) as sock:
        srv.signal(signal.SIGTERM)
        _send_rest_slowly(sock)
        # The master is still waiting for this connection: nobody accepts any more.
        assert srv.proc.poll() is None
        assert not port_open(port), "a new connection was accepted after SIGTERM"
        status, headers, body = read_response(sock)
        assert (status, body) == (200, b"v1")
    assert srv.wait_exit(10) == 0
    assert not port_open(port)
    assert "shutting down" in srv.stderr()


def test_sigterm_closes_the_connection_after_the_request_in_flight(
    serve: Callable[..., Server],
) -> None:
    # The answer to a request that was in flight at SIGTERM should end the connection
    # (Connection: close, then the server closes), so shutdown does not wait for the
    # client or for keepalive_timeout.
    port = free_port()
    srv = serve(config_text(port, workers=1), port)
    with _start_slow_post(srv) as sock:
        srv.signal(signal.SIGTERM)
        _send_rest_slowly(sock, over=0.5)
        status, headers, body = read_response(sock)
        assert (status, body) == (200, b"v1")
        sock.settimeout(5)
        started = time.monotonic()
        assert sock.recv(100) == b"", "the server sent more after the last response"
        assert time.monotonic() - started < 3.0
        assert headers.get("connection") == "close"
        assert srv.wait_exit(5) == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stop_signal_exits_zero_and_closes_the_port(
    serve: Callable[..., Server], sig: signal.Signals
) -> None:
    port = free_port()
    srv = serve(config_text(port, workers=2), port)
    workers = srv.wait_workers(2)
    assert srv.get() == (200, b"v1")
    srv.signal(sig)
    assert srv.wait_exit(10) == 0
    assert not port_open(port)
    for pid in workers:
        assert is_zombie_or_gone(pid)


def test_idle_keepalive_connection_does_not_delay_shutdown(serve: Callable[..., Server]) -> None:
    port = free_port()
    srv = serve(config_text(port, workers=1), port)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert read_response(sock)[0] == 200
        started = time.monotonic()
        srv.signal(signal.SIGTERM)
        assert srv.wait_exit(8) == 0
        assert time.monotonic() - started < 3.0
        assert sock.recv(100) == b""


def test_stop_command_signals_the_master_via_the_pid_file(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    port = free_port()
    pid_file = tmp_path / "frontdesk.pid"
    srv = serve(config_text(port, pid_file=pid_file), port)
    assert int(pid_file.read_text()) == srv.pid
    assert srv.config is not None
    done = subprocess.run(
        [sys.executable, "-m", "frontdesk", "stop", "-c", str(srv.config)],
        capture_output=True,
        timeout=20,
    )
    assert done.returncode == 0, done.stderr
    assert srv.wait_exit(10) == 0
    assert not pid_file.exists()
