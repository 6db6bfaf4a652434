"""TLS termination end to end: a real server process, trustme certificates, curl and
Python's ssl as clients (SNI, versions, session resumption across workers, reload)."""

from __future__ import annotations

import json
import signal
import socket
import ssl
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import trustme
from proc_helpers import Server, free_port, over_both_workers, start_server


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def write_pair(ca: trustme.CA, directory: Path, name: str, *hosts: str) -> None:
    cert = ca.issue_cert(*hosts)
    cert.cert_chain_pems[0].write_to_path(str(directory / f"{name}.pem"))
    cert.private_key_pem.write_to_path(str(directory / f"{name}.key"))


def tls_config(port: int, tls_port: int, *, workers: int = 2, extra: str = "") -> str:
    return f"""\
[server]
listen = ["127.0.0.1:{port}", {{ address = "127.0.0.1:{tls_port}", tls = true }}]
workers = {workers}
access_log = "off"
shutdown_timeout = "5s"

[tls]
cert = "main.pem"
key = "main.key"
certificates = [
    {{ cert = "wild.pem", key = "wild.key" }},
    {{ cert = "other.pem", key = "other.key" }},
]
{extra}

[[route]]
respond = {{ body = "hello\\n" }}
"""


@pytest.fixture
def tls_server(tmp_path: Path, ca: trustme.CA) -> tuple[Server, int]:
    write_pair(ca, tmp_path, "main", "localhost", "127.0.0.1")
    write_pair(ca, tmp_path, "wild", "*.wild.test")
    write_pair(ca, tmp_path, "other", "other.test")
    port, tls_port = free_port(), free_port()
    server = start_server(tmp_path, tls_config(port, tls_port), port)
    yield server, tls_port
    server.terminate()


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    return ctx


def https_get(
    ctx: ssl.SSLContext, port: int, name: str = "localhost", session: ssl.SSLSession | None = None
) -> tuple[bytes, ssl.SSLSession | None, bool]:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=name, session=session) as tls:
            tls.sendall(b"GET / HTTP/1.1\r\nHost: " + name.encode() + b"\r\n\r\n")
            data = b""
            while not data.endswith(b"hello\n"):
                chunk = tls.recv(4096)
                if not chunk:
                    break
                data += chunk
            return data, tls.session, tls.session_reused


def served_cert_names(ctx: ssl.SSLContext, port: int, name: str) -> list[str]:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=name) as tls:
            cert = tls.getpeercert()
    return [v for k, v in cert.get("subjectAltName", ()) if k == "DNS"]


def test_curl_http11_over_tls(
    tls_server: tuple[Server, int], ca: trustme.CA, tmp_path: Path
) -> None:
    _, tls_port = tls_server
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    out = subprocess.run(
        [
            "curl",
            "-sS",
            "--http1.1",
            "--cacert",
            str(ca_file),
            "-w",
            "%{http_version}",
            f"https://localhost:{tls_port}/",
        ],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == "hello\n1.1"


def test_sni_picks_certificate_and_wildcard(tls_server: tuple[Server, int], ca: trustme.CA) -> None:
    _, tls_port = tls_server
    ctx = client_context(ca)
    assert served_cert_names(ctx, tls_port, "other.test") == ["other.test"]
    assert served_cert_names(ctx, tls_port, "a.wild.test") == ["*.wild.test"]
    assert served_cert_names(ctx, tls_port, "localhost") == ["localhost"]
    # An unknown name gets the default certificate (and fails verification for it).
    with pytest.raises(ssl.SSLCertVerificationError):
        served_cert_names(ctx, tls_port, "a.b.wild.test")


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1])
def test_old_versions_refused(tls_server: tuple[Server, int], version: ssl.TLSVersion) -> None:
    _, tls_port = tls_server
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # the point of the test
            ctx.minimum_version = version
            ctx.maximum_version = version
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    except (ValueError, ssl.SSLError):
        pytest.skip("this OpenSSL cannot even offer that version")
    with socket.create_connection(("127.0.0.1", tls_port), timeout=5) as raw:
        with pytest.raises((ssl.SSLError, ConnectionError)):
            ctx.wrap_socket(raw, server_hostname="localhost")


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_sessions_resume_on_every_worker(
    tls_server: tuple[Server, int], ca: trustme.CA, version: ssl.TLSVersion
) -> None:
    """Each worker has its own SSL_CTX; a ticket one of them issued resumes on the
    others because the master gave them all the same ticket key. With 2 workers
    accepting from one socket, resumptions 8 at a time land on both (one after the
    other, the kernel may hand every connection to the same worker: CI saw 0 and 31)."""
    server, tls_port = tls_server
    ctx = client_context(ca)
    ctx.maximum_version = version
    body, session, _ = https_get(ctx, tls_port)
    assert body.endswith(b"hello\n")
    assert session is not None
    assert server.config is not None
    config = server.config

    def served() -> list[int]:
        status = subprocess.run(
            [sys.executable, "-m", "frontdesk", "status", "--json", "-c", str(config)],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=config.parent,
        )
        return [w["requests"] for w in json.loads(status.stdout)["workers"]]

    def both() -> bool:
        counts = served()
        return len(counts) == 2 and all(n > 0 for n in counts)

    reused = over_both_workers(
        lambda: https_get(ctx, tls_port, session=session)[2], both, at_least=24, most=120
    )
    assert all(reused), reused
    # Both workers served some: the ticket worker A issued resumed on worker B.
    assert both(), served()
    # Clients closing (close_notify) are no news worth a log line each.
    assert "eof_received" not in server.stderr() + server.stdout()


def test_session_resumes_after_reload(tmp_path: Path, ca: trustme.CA) -> None:
    """A new generation of workers (new processes, new SSL_CTXs) resumes sessions the
    old one issued: the ticket key is the master's. Certificates are re-read."""
    write_pair(ca, tmp_path, "main", "localhost", "127.0.0.1")
    write_pair(ca, tmp_path, "wild", "*.wild.test")
    write_pair(ca, tmp_path, "other", "other.test")
    port, tls_port = free_port(), free_port()
    server = start_server(tmp_path, tls_config(port, tls_port, workers=1), port)
    try:
        ctx = client_context(ca)
        _, session, _ = https_get(ctx, tls_port)
        old_workers = server.workers()
        # A new certificate for other.test, read on reload.
        write_pair(ca, tmp_path, "other", "other.test", "new.other.test")
        mark = server.log_size()
        server.signal(signal.SIGHUP)
        server.wait_log("reloaded", start=mark)
        server.wait_workers(1)
        assert server.workers() != old_workers
        assert https_get(ctx, tls_port, session=session)[2]
        assert served_cert_names(ctx, tls_port, "new.other.test") == [
            "other.test",
            "new.other.test",
        ]
    finally:
        server.terminate()


def test_redirect_https_listener(tmp_path: Path, ca: trustme.CA) -> None:
    write_pair(ca, tmp_path, "main", "localhost")
    port, tls_port = free_port(), free_port()
    text = f"""\
[server]
listen = [
    {{ address = "127.0.0.1:{port}", redirect_https = true }},
    {{ address = "127.0.0.1:{tls_port}", tls = true }},
]
workers = 1
access_log = "off"
[tls]
cert = "main.pem"
key = "main.key"
[[route]]
respond = {{ body = "hello\\n" }}
"""
    server = start_server(tmp_path, text, port)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET /a/b?c=d HTTP/1.1\r\nHost: example.com\r\n\r\n")
            head = s.recv(4096).decode()
        assert head.startswith("HTTP/1.1 308 ")
        assert f"Location: https://example.com:{tls_port}/a/b?c=d\r\n" in head
    finally:
        server.terminate()


def test_bad_key_is_a_config_error_before_start(tmp_path: Path, ca: trustme.CA) -> None:
    write_pair(ca, tmp_path, "main", "localhost")
    write_pair(ca, tmp_path, "wild", "*.wild.test")
    write_pair(ca, tmp_path, "other", "other.test")
    (tmp_path / "other.key").write_text("-----BEGIN PRIVATE KEY-----\nnope\n")
    cfg = tmp_path / "bad.toml"
    cfg.write_text(tls_config(free_port(), free_port()))
    out = subprocess.run(
        [sys.executable, "-m", "frontdesk", "check", "-c", str(cfg)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 2
    assert "tls.certificates[1]" in out.stdout + out.stderr
    assert "other.key: not a usable PEM private key" in out.stdout + out.stderr


def https_head(ctx: ssl.SSLContext, port: int, path: str, host: str) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(
                f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
            )
            data = b""
            while chunk := tls.recv(4096):
                data += chunk
    return data.split(b"\r\n\r\n", 1)[0].decode()


def test_hsts_per_host_on_https_only(tmp_path: Path, ca: trustme.CA) -> None:
    write_pair(ca, tmp_path, "main", "localhost")
    (tmp_path / "www" / "sub").mkdir(parents=True)
    port, tls_port = free_port(), free_port()
    text = f"""\
[server]
listen = ["127.0.0.1:{port}", {{ address = "127.0.0.1:{tls_port}", tls = true }}]
workers = 1
access_log = "off"
[tls]
cert = "main.pem"
key = "main.key"
hsts = {{ "secure.test" = "max-age=31536000; includeSubDomains", "*" = "max-age=60" }}
[[route]]
match = {{ path = "/static/" }}
static = {{ root = "www" }}
[[route]]
respond = {{ body = "hello\\n" }}
"""
    server = start_server(tmp_path, text, port)
    try:
        ctx = client_context(ca)
        head = https_head(ctx, tls_port, "/", "secure.test")
        assert "\r\nStrict-Transport-Security: max-age=31536000; includeSubDomains\r\n" in head
        head = https_head(ctx, tls_port, "/", "other.test")
        assert "\r\nStrict-Transport-Security: max-age=60\r\n" in head
        # A streamed answer (the static directory redirect) carries it too.
        head = https_head(ctx, tls_port, "/static/sub", "secure.test")
        assert head.startswith("HTTP/1.1 301 ")
        assert "Strict-Transport-Security: max-age=31536000" in head
        # RFC 6797 §7.2: never over plain HTTP.
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: secure.test\r\nConnection: close\r\n\r\n")
            plain = s.recv(4096).decode()
        assert plain.startswith("HTTP/1.1 200 ")
        assert "Strict-Transport-Security" not in plain
    finally:
        server.terminate()
