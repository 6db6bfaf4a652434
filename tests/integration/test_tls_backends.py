"""TLS to backends: `https://` servers verified against a `ca` file (or the system
store), SNI from the address, and a client certificate for backends that require one."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import trustme
from proc_helpers import Server, free_port, start_server


class _Echo(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        tls = self.request  # an SSLSocket
        peer = tls.getpeercert()
        body = json.dumps(
            {
                "sni": getattr(self.server, "last_sni", None),
                "client": [v for _, v in peer["subjectAltName"]] if peer else None,
                "proto": self.headers.get("X-Forwarded-Proto"),
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass

    def handle(self) -> None:
        try:
            super().handle()
        except (ssl.SSLError, OSError):
            pass  # a refused handshake


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def https_backend(ca: trustme.CA, client_ca: trustme.CA | None) -> ThreadingHTTPServer:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("backend.test", "127.0.0.1").configure_cert(ctx)
    if client_ca is not None:
        ctx.verify_mode = ssl.CERT_REQUIRED
        client_ca.configure_trust(ctx)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)

    def on_sni(sock: ssl.SSLObject, name: str | None, _: ssl.SSLContext) -> None:
        server.last_sni = name  # type: ignore[attr-defined]

    ctx.sni_callback = on_sni
    # The handshake in the handler's thread: a failed one (the point of some tests)
    # then closes its socket like any failed request.
    server.socket = ctx.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def backend(ca: trustme.CA) -> Iterator[ThreadingHTTPServer]:
    server = https_backend(ca, None)
    yield server
    server.shutdown()
    server.server_close()


def start(tmp_path: Path, pool: str) -> Server:
    port = free_port()
    text = f"""\
[server]
listen = ["127.0.0.1:{port}"]
workers = 1
access_log = "off"

[[route]]
proxy = {{ pool = "app" }}

[pool.app]
{pool}
"""
    return start_server(tmp_path, text, port)


def test_https_backend_verified_with_ca_file_and_sni(
    tmp_path: Path, ca: trustme.CA, backend: ThreadingHTTPServer
) -> None:
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    port = backend.server_address[1]
    # A name that resolves to 127.0.0.1 (localhost) would not be in the certificate:
    # server_name says which name to send by SNI and verify.
    server = start(
        tmp_path,
        f'servers = ["https://127.0.0.1:{port}"]\n'
        'tls = { ca = "ca.pem", server_name = "backend.test" }',
    )
    try:
        status, body = server.get("/")
        assert status == 200, body
        assert json.loads(body)["sni"] == "backend.test"
    finally:
        server.terminate()


def test_https_backend_ip_address_checked_against_ip_names(
    tmp_path: Path, ca: trustme.CA, backend: ThreadingHTTPServer
) -> None:
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    port = backend.server_address[1]
    server = start(tmp_path, f'servers = ["https://127.0.0.1:{port}"]\ntls = {{ ca = "ca.pem" }}')
    try:
        status, body = server.get("/")
        assert status == 200, body
        assert json.loads(body)["sni"] is None  # RFC 6066 §3: no IP literals in SNI
    finally:
        server.terminate()


def test_unverifiable_backend_is_a_502(tmp_path: Path, backend: ThreadingHTTPServer) -> None:
    # The system store does not know the test CA: the handshake fails, nothing is sent.
    port = backend.server_address[1]
    server = start(tmp_path, f'servers = ["https://127.0.0.1:{port}"]')
    try:
        status, _ = server.get("/")
        assert status == 502
    finally:
        server.terminate()


def test_client_certificate_for_mutual_tls(tmp_path: Path, ca: trustme.CA) -> None:
    client_ca = trustme.CA()
    backend = https_backend(ca, client_ca)
    try:
        ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
        client = client_ca.issue_cert("frontdesk.client")
        client.cert_chain_pems[0].write_to_path(str(tmp_path / "client.pem"))
        client.private_key_pem.write_to_path(str(tmp_path / "client.key"))
        port = backend.server_address[1]
        without = start(
            tmp_path, f'servers = ["https://127.0.0.1:{port}"]\ntls = {{ ca = "ca.pem" }}'
        )
        try:
            assert without.get("/")[0] == 502  # the backend wants a client certificate
        finally:
            without.terminate()
        with_cert = start(
            tmp_path,
            f'servers = ["https://127.0.0.1:{port}"]\n'
            'tls = { ca = "ca.pem", cert = "client.pem", key = "client.key" }',
        )
        try:
            status, body = with_cert.get("/")
            assert status == 200, body
            assert json.loads(body)["client"] == ["frontdesk.client"]
        finally:
            with_cert.terminate()
    finally:
        backend.shutdown()
        backend.server_close()


def test_mixed_schemes_are_a_config_error(tmp_path: Path) -> None:
    from frontdesk.config.load import load_text
    from frontdesk.errors import ConfigError

    with pytest.raises(ConfigError, match="all speak https or all plain http"):
        load_text(
            '[pool.app]\nservers = ["https://a:1", "b:2"]\n[[route]]\nproxy = { pool = "app" }',
            str(tmp_path / "f.toml"),
        )
