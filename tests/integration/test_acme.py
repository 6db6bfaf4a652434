"""ACME end to end against pebble on loopback: frontdesk gets a certificate for the
route's host name by answering HTTP-01 itself, stores it 0600, serves it without
restarting a worker, and renews it (a renew_before longer than its validity makes
every round renew it)."""

from __future__ import annotations

import os
import socket
import ssl
import stat
import time
from pathlib import Path

import pytest
from pebble_helpers import Pebble, available, start_pebble
from proc_helpers import free_port, start_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not available(), reason="pebble not installed (./dev test installs it)"),
]

NAME = "app.frontdesk.test"


def acme_config(port: int, tls_port: int, pebble: Pebble, extra: str = "") -> str:
    return f"""\
[server]
listen = ["127.0.0.1:{port}", {{ address = "127.0.0.1:{tls_port}", tls = true }}]
workers = 2
access_log = "off"
shutdown_timeout = "5s"

[tls.acme]
email = "ops@frontdesk.test"
directory = "{pebble.directory}"
ca = "{pebble.ca_file}"
storage = "acme"
{extra}

[[route]]
match = {{ host = "{NAME}" }}
respond = {{ body = "app\\n" }}
"""


def served(root: bytes, tls_port: int) -> tuple[bytes, bytes]:
    """(the certificate's DER, the answer) for NAME, verified against pebble's root."""
    context = ssl.create_default_context(cadata=root.decode())
    with socket.create_connection(("127.0.0.1", tls_port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=NAME) as tls:
            tls.sendall(f"GET / HTTP/1.1\r\nHost: {NAME}\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while chunk := tls.recv(4096):
                data += chunk
            der = tls.getpeercert(binary_form=True)
    assert der is not None
    return der, data


def wait_served(pebble: Pebble, tls_port: int, timeout: float = 30.0) -> tuple[bytes, bytes]:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            return served(pebble.root_pem(), tls_port)
        except (ssl.SSLError, OSError) as exc:
            last = exc
            time.sleep(0.2)
    raise AssertionError(f"no certificate served within {timeout}s: {last}")


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Pebble, int, int]:
    port, tls_port = free_port(), free_port()
    pebble = start_pebble(tmp_path / "pebble", port)
    yield pebble, port, tls_port
    pebble.stop()


def test_certificate_obtained_stored_and_served(
    tmp_path: Path, setup: tuple[Pebble, int, int]
) -> None:
    pebble, port, tls_port = setup
    server = start_server(tmp_path, acme_config(port, tls_port, pebble), port)
    try:
        workers = server.workers()
        _, answer = wait_served(pebble, tls_port)
        assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"app\n")
        server.wait_log(f"acme: certificate for {NAME} obtained")
        assert server.workers() == workers  # handed over, not restarted
        for file in ("cert.pem", "key.pem"):
            mode = stat.S_IMODE(os.stat(tmp_path / "acme" / NAME / file).st_mode)
            assert mode == 0o600, (file, oct(mode))
        assert stat.S_IMODE(os.stat(tmp_path / "acme").st_mode) == 0o700
    finally:
        server.terminate()
    # Started again: the stored certificate is served at once (none is asked for).
    server = start_server(tmp_path, acme_config(port, tls_port, pebble), port)
    try:
        served(pebble.root_pem(), tls_port)
        time.sleep(1.0)
        assert "obtained" not in server.stderr()
    finally:
        server.terminate()


def test_renewed_and_handed_to_running_workers(
    tmp_path: Path, setup: tuple[Pebble, int, int]
) -> None:
    pebble, port, tls_port = setup
    extra = 'renew_before = "36500d"\ncheck_interval = "2s"'  # always due: renew each round
    server = start_server(tmp_path, acme_config(port, tls_port, pebble, extra), port)
    try:
        first, _ = wait_served(pebble, tls_port)
        workers = server.workers()
        deadline = time.monotonic() + 30
        while served(pebble.root_pem(), tls_port)[0] == first:
            assert time.monotonic() < deadline, server.stderr()
            time.sleep(0.3)
        assert server.workers() == workers
    finally:
        server.terminate()


def test_failure_is_logged_with_what_to_do(tmp_path: Path, setup: tuple[Pebble, int, int]) -> None:
    pebble, port, tls_port = setup
    # The CA validates on `port`, but frontdesk's plain listener is elsewhere.
    elsewhere = free_port()
    text = acme_config(elsewhere, tls_port, pebble)
    server = start_server(tmp_path, text, elsewhere)
    try:
        log = server.wait_log("acme: no certificate for", timeout=30)
        assert f"check that {NAME} resolves to this machine and that port 80 reaches" in log
        assert "next try in 1m" in log
    finally:
        server.terminate()


def test_wildcard_host_is_a_config_error(tmp_path: Path) -> None:
    from frontdesk.config.load import load_text
    from frontdesk.errors import ConfigError

    text = """\
[server]
listen = [{ address = ":443", tls = true }]
[tls.acme]
email = "ops@example.com"
[[route]]
match = { host = "*.example.com" }
respond = { body = "x" }
"""
    with pytest.raises(ConfigError, match="wildcard names need the DNS-01 challenge"):
        load_text(text, str(tmp_path / "f.toml"))
