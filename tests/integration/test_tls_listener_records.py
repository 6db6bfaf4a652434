"""The TLS record path (tls/transport.py) against a real server process: a large file
to a slow reader, pipelined requests, an upload, and the clients that never finish a
handshake or speak plain HTTP to the TLS port."""

from __future__ import annotations

import hashlib
import os
import socket
import ssl
import time
from collections.abc import Iterator

import pytest
import trustme
from proc_helpers import Server, free_port, start_server


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, ca: trustme.CA
) -> Iterator[tuple[Server, int, bytes]]:
    tmp_path = tmp_path_factory.mktemp("tls-transport")
    cert = ca.issue_cert("localhost", "127.0.0.1")
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "c.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "k.pem"))
    site = tmp_path / "site"
    site.mkdir()
    big = os.urandom(6 * 1024 * 1024)
    (site / "big.bin").write_bytes(big)
    port, tls_port = free_port(), free_port()
    config = f"""\
[server]
listen = ["127.0.0.1:{port}", {{ address = "127.0.0.1:{tls_port}", tls = true }}]
workers = 1
access_log = "off"
header_timeout = "1s"

[tls]
cert = "c.pem"
key = "k.pem"

[[route]]
static = {{ root = "{site}" }}
"""
    server = start_server(tmp_path, config, port)
    yield server, tls_port, big
    server.terminate()


def connect(ca: trustme.CA, port: int) -> ssl.SSLSocket:
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def read_response(tls: ssl.SSLSocket, pause: float = 0.0) -> tuple[bytes, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        data += tls.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(
        next(
            v
            for k, _, v in (h.partition(b": ") for h in head.split(b"\r\n"))
            if k.lower() == b"content-length"
        )
    )
    while len(body) < length:
        chunk = tls.recv(65536)
        assert chunk, "the connection ended inside the body"
        body += chunk
        if pause:
            time.sleep(pause)
    return head, body


def test_large_file_to_a_slow_reader(served: tuple[Server, int, bytes], ca: trustme.CA) -> None:
    """6 MiB through the TLS transport's backpressure, read slowly: every byte, in order."""
    _, port, big = served
    with connect(ca, port) as tls:
        tls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
        tls.sendall(b"GET /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n")
        head, body = read_response(tls, pause=0.0005)
        assert head.startswith(b"HTTP/1.1 200")
        assert hashlib.sha256(body).digest() == hashlib.sha256(big).digest()
        # The connection is still good for the next request.
        tls.sendall(b"GET /big.bin HTTP/1.1\r\nHost: localhost\r\nRange: bytes=0-9\r\n\r\n")
        head, body = read_response(tls)
        assert head.startswith(b"HTTP/1.1 206") and body == big[:10]


def test_pipelined_requests_in_one_record(
    served: tuple[Server, int, bytes], ca: trustme.CA
) -> None:
    _, port, big = served
    with connect(ca, port) as tls:
        ranges = [(n * 100, n * 100 + 99) for n in range(40)]
        tls.sendall(
            b"".join(
                b"GET /big.bin HTTP/1.1\r\nHost: localhost\r\nRange: bytes=%d-%d\r\n\r\n" % r
                for r in ranges
            )
        )
        for first, last in ranges:
            head, body = read_response(tls)
            assert head.startswith(b"HTTP/1.1 206")
            assert body == big[first : last + 1]


def test_plain_http_to_the_tls_port_is_closed_quietly(
    served: tuple[Server, int, bytes], ca: trustme.CA
) -> None:
    server, port, _ = served
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        raw.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        got = b""
        while chunk := raw.recv(4096):
            got += chunk
        assert b"HTTP/1.1" not in got  # at most a TLS alert, never an answer in clear
    with connect(ca, port) as tls:  # and the server goes on
        tls.sendall(b"GET /big.bin HTTP/1.1\r\nHost: localhost\r\nRange: bytes=0-0\r\n\r\n")
        assert read_response(tls)[0].startswith(b"HTTP/1.1 206")
    assert "Traceback" not in server.stderr()


def test_a_handshake_never_finished_is_closed(
    served: tuple[Server, int, bytes],
) -> None:
    """Connecting and saying nothing: closed after header_timeout (1 s here)."""
    _, port, _ = served
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        started = time.monotonic()
        assert raw.recv(100) == b""
        assert 0.5 < time.monotonic() - started < 5
