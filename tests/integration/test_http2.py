"""HTTP/2 end to end: a real server (one worker), trustme certificates, curl --http2 /
--http1.1 and the `h2` library as clients. Every kind of route behaves as it does over
HTTP/1.1: static files (ranges, validators), the proxy, the cache, Basic auth."""

from __future__ import annotations

import base64
import hashlib
import signal
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import bcrypt
import pytest
import trustme
from h2.errors import ErrorCodes
from h2_helpers import H2Client, vm_rss_kb
from hyperframe.frame import HeadersFrame
from proc_helpers import Server, free_port, live_children, start_server

BIG = 50 * 1000 * 1000


class Backend(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's spelling)
        Backend.seen.append({k.lower(): v for k, v in self.headers.items()} | {":path": self.path})
        if self.path.startswith("/api/big"):
            self.send_response(200)
            self.send_header("Content-Length", str(BIG))
            self.end_headers()
            block = b"x" * 65536
            left = BIG
            while left:
                n = min(left, len(block))
                self.wfile.write(block[:n])
                left -= n
            return
        body = f"backend {self.path}\n".encode()
        self.send_response(200)
        if self.path.startswith("/cached/"):
            self.send_header("Cache-Control", "public, max-age=60")
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length", -1))
        data = self.rfile.read(length) if length >= 0 else _read_chunked(self.rfile)
        body = f"{len(data)} {hashlib.sha256(data).hexdigest()}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _read_chunked(rfile: object) -> bytes:
    out = b""
    while True:
        size = int(rfile.readline().split(b";")[0], 16)  # type: ignore[attr-defined]
        if size == 0:
            rfile.readline()  # type: ignore[attr-defined]
            return out
        out += rfile.read(size)  # type: ignore[attr-defined]
        rfile.readline()  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def backend() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Backend)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def h2server(
    tmp_path_factory: pytest.TempPathFactory, ca: trustme.CA, backend: int
) -> Iterator[tuple[Server, int, int]]:
    d = tmp_path_factory.mktemp("h2")
    cert = ca.issue_cert("localhost", "127.0.0.1")
    cert.cert_chain_pems[0].write_to_path(str(d / "cert.pem"))
    cert.private_key_pem.write_to_path(str(d / "cert.key"))
    (d / "www").mkdir()
    (d / "www" / "hello.txt").write_text("hello, world\n")
    with open(d / "www" / "big.bin", "wb") as f:
        f.write(b"0123456789" * (BIG // 10))
    (d / "private").mkdir()
    (d / "private" / "secret.txt").write_text("secret\n")
    hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(4)).decode()
    (d / "users").write_text(f"ann:{hashed}\n")
    port, tls_port, h2c_port = free_port(), free_port(), free_port()
    config = f"""\
[server]
listen = ["127.0.0.1:{port}", {{ address = "127.0.0.1:{tls_port}", tls = true }},
          {{ address = "127.0.0.1:{h2c_port}", h2c = true }}]
workers = 1
access_log = "off"
shutdown_timeout = "5s"

[tls]
cert = "cert.pem"
key = "cert.key"
hsts = {{ "*" = "max-age=600" }}

[[route]]
match = {{ path = "/health" }}
respond = {{ body = "ok\\n" }}

[[route]]
match = {{ path = "/static/" }}
static = {{ root = "www" }}

[[route]]
match = {{ path = "/private/" }}
access = "staff"
static = {{ root = "private" }}

[[route]]
match = {{ path = "/cached/" }}
proxy = {{ pool = "app" }}
cache = "main"

[[route]]
match = {{ path = "/api/" }}
proxy = {{ pool = "app", max_body_size = "64MB" }}

[pool.app]
servers = ["127.0.0.1:{backend}"]

[cache.main]
memory = "16MB"

[access.staff]
htpasswd = "users"
"""
    server = start_server(d, config, port)
    yield server, tls_port, h2c_port
    server.terminate()


@pytest.fixture
def tls(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    return ctx


def curl(*args: str, check: bool = True) -> tuple[str, str]:
    out = subprocess.run(
        ["curl", "-sS", "-w", "\n%{http_version} %{http_code}", *args],
        capture_output=True,
        timeout=30,
        check=check,
    ).stdout.decode()
    body, _, status = out.rpartition("\n")
    return body, status


def test_curl_negotiates_h2_and_http11_on_the_same_listener(h2server, ca, tmp_path) -> None:
    _, tls_port, _ = h2server
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    url = f"https://localhost:{tls_port}/static/hello.txt"
    cacert = ["--cacert", str(tmp_path / "ca.pem")]
    assert curl(*cacert, "--http2", url) == ("hello, world\n", "2 200")
    assert curl(*cacert, "--http1.1", url) == ("hello, world\n", "1.1 200")
    body, status = curl(*cacert, "--http2", "-H", "Range: bytes=7-11", url)
    assert (body, status) == ("world", "2 206")


def test_h2c_prior_knowledge_beside_http11(h2server) -> None:
    server, _, h2c_port = h2server
    url = f"http://127.0.0.1:{h2c_port}/health"
    assert curl("--http2-prior-knowledge", url) == ("ok\n", "2 200")
    assert curl("--http1.1", url) == ("ok\n", "1.1 200")  # the same listener still speaks 1.1
    # A plain listener without h2c answers the preface as a bad HTTP/1.1 request.
    _, status = curl(
        "--http2-prior-knowledge", f"http://127.0.0.1:{server.port}/health", check=False
    )
    assert status.split()[1] in ("000", "505")


def test_static_ranges_and_validators_over_h2(h2server, tls) -> None:
    _, tls_port, _ = h2server
    c = H2Client(tls_port, tls)
    try:
        a = c.get("/static/hello.txt")
        assert (a.status, a.body) == (200, b"hello, world\n")
        assert a.header(b"content-length") == b"13"
        assert a.header(b"strict-transport-security") == b"max-age=600"
        assert all(k == k.lower() for k, _ in a.headers)
        etag = a.header(b"etag")
        assert etag
        a = c.get("/static/hello.txt", [(b"if-none-match", etag)])
        assert (a.status, a.body) == (304, b"")
        a = c.get("/static/hello.txt", [(b"range", b"bytes=0-4")])
        assert (a.status, a.body, a.header(b"content-range")) == (206, b"hello", b"bytes 0-4/13")
        a = c.get("/static/big.bin", [(b"range", b"bytes=0-1,1000003-1000004")])
        assert a.status == 206 and b"multipart/byteranges" in (a.header(b"content-type") or b"")
        assert b"\r\n\r\n01\r\n" in a.body and b"\r\n\r\n34\r\n" in a.body
        assert int(a.header(b"content-length") or 0) == len(a.body)
        a = c.get("/static/nothing-here")
        assert a.status == 404
        a = c.get("/static/hello.txt", method="HEAD")
        assert (a.status, a.body, a.header(b"content-length")) == (200, b"", b"13")
    finally:
        c.close()


def test_proxy_over_h2_host_cookies_and_via(h2server, tls) -> None:
    _, tls_port, _ = h2server
    Backend.seen.clear()
    c = H2Client(tls_port, tls)
    try:
        a = c.get("/api/thing?x=1", [(b"cookie", b"a=1"), (b"cookie", b"b=2")])
        assert (a.status, a.body) == (200, b"backend /api/thing?x=1\n")
        seen = Backend.seen[-1]
        assert seen["host"] == "localhost"  # from :authority (RFC 9113 §8.3.1)
        assert seen["cookie"] == "a=1; b=2"  # crumbs joined (RFC 9113 §8.2.3)
        assert seen["x-forwarded-proto"] == "https"
        assert seen["via"].startswith("2 ")
    finally:
        c.close()


def test_request_bodies_follow_the_window(h2server, tls) -> None:
    """A body of 3 MB, over a 256 KB stream window: sent as frontdesk reopens it."""
    _, tls_port, _ = h2server
    c = H2Client(tls_port, tls)
    data = bytes(range(256)) * (3 * 4096)
    try:
        with_length = c.send("/api/upload", "POST", [(b"content-length", b"%d" % len(data))], data)
        a = c.wait(with_length)
        assert a.body == f"{len(data)} {hashlib.sha256(data).hexdigest()}".encode()
        chunked = c.send("/api/upload", "POST", [], data)  # no length: chunked upstream
        a = c.wait(chunked)
        assert a.body == f"{len(data)} {hashlib.sha256(data).hexdigest()}".encode()
    finally:
        c.close()


def test_cache_hit_over_h2(h2server, tls) -> None:
    _, tls_port, _ = h2server
    Backend.seen.clear()
    c = H2Client(tls_port, tls)
    try:
        first = c.get("/cached/page")
        second = c.get("/cached/page")
        assert first.body == second.body == b"backend /cached/page\n"
        assert b"hit" in (second.header(b"cache-status") or b"")
        assert len([s for s in Backend.seen if s[":path"] == "/cached/page"]) == 1
    finally:
        c.close()


def test_basic_auth_over_h2(h2server, tls) -> None:
    _, tls_port, _ = h2server
    c = H2Client(tls_port, tls)
    try:
        a = c.get("/private/secret.txt")
        assert a.status == 401
        assert (a.header(b"www-authenticate") or b"").startswith(b"Basic")
        token = base64.b64encode(b"ann:pw")
        a = c.get("/private/secret.txt", [(b"authorization", b"Basic " + token)])
        assert (a.status, a.body) == (200, b"secret\n")
    finally:
        c.close()


def test_malformed_requests_reset_their_stream_only(h2server, tls) -> None:
    _, tls_port, _ = h2server
    c = H2Client(tls_port, tls)
    try:
        # RFC 9113 §8.2.2: connection-specific fields make a request malformed.
        for bad in ([(b"connection", b"keep-alive")], [(b"transfer-encoding", b"chunked")]):
            a = c.wait(c.send("/health", headers=bad))
            assert a.reset == ErrorCodes.PROTOCOL_ERROR
        a = c.get("/health", [(b"te", b"trailers")])  # the one TE allowed
        assert (a.status, a.body) == (200, b"ok\n")
        a = c.get("/health", [(b"x-big", b"v" * 40000)])  # over max_header_list_size
        assert a.status == 431
        assert c.goaway is None
    finally:
        c.close()


def test_settings_advertise_the_limits(h2server, tls) -> None:
    _, tls_port, _ = h2server
    c = H2Client(tls_port, tls)
    try:
        c.get("/health")
        remote = c.conn.remote_settings
        assert remote.max_concurrent_streams == 100
        assert remote.initial_window_size == 256 * 1024
        assert remote.max_header_list_size == 32 * 1024
        # Many streams at once on one connection, all answered.
        sids = [c.send("/static/hello.txt") for _ in range(50)]
        assert all(c.wait(s).body == b"hello, world\n" for s in sids)
    finally:
        c.close()


@pytest.mark.slow
@pytest.mark.parametrize("path", ["/static/big.bin", "/api/big"])
def test_large_bodies_are_not_buffered(h2server, tls, path: str) -> None:
    """50 MB to a client that reads slowly: the worker's memory stays flat (the
    stream's window and the socket hold the rest back), and every byte arrives."""
    server, tls_port, _ = h2server
    worker = live_children(server.pid)[0]
    before = vm_rss_kb(worker)
    c = H2Client(tls_port, tls)
    c.auto_ack = False
    try:
        sid = c.send(path)
        answer = c.answers[sid]
        peak = 0
        total = 0
        checked = 0
        while not answer.ended:
            assert c.read_once()
            n = len(answer.body)
            if n >= 32768:
                # The client's window (64 KiB) reopens only as it reads: the pace is
                # the client's, and the worker must hold the rest back, not buffer it.
                total += n
                answer.body = b""
                c.conn.acknowledge_received_data(n, sid)
                c.flush()
                if total - checked >= 5 << 20:
                    checked = total
                    peak = max(peak, vm_rss_kb(worker))
        total += len(answer.body)
        assert total == BIG
        growth = (peak - before) / 1024
        print(f"\n{path}: worker RSS {before} KiB before, peak {peak} KiB (+{growth:.1f} MB)")
        assert answer.status == 200
        assert growth < 20
    finally:
        c.close()


def test_more_streams_than_the_limit_end_the_connection(h2server, tls) -> None:
    """SETTINGS_MAX_CONCURRENT_STREAMS (100) is enforced: the 101st open stream is a
    connection error (the client ignored our SETTINGS), answered with GOAWAY."""
    _, tls_port, _ = h2server
    c = H2Client(tls_port, tls)
    try:
        c.get("/health")  # our SETTINGS are in
        for _ in range(100):  # requests whose bodies never end: they stay open
            c.send("/api/upload", "POST", [], b"x", end=False)
        # The h2 library would not open a 101st: the frame is written by hand.
        extra = c.conn.highest_outbound_stream_id + 2
        frame = HeadersFrame(extra, flags=["END_HEADERS"])
        frame.data = c.conn.encoder.encode(
            [(b":method", b"POST"), (b":path", b"/api/upload"), (b":scheme", b"https"),
             (b":authority", b"localhost")]
        )  # fmt: skip
        c.sock.sendall(frame.serialize())
        while c.goaway is None and c.read_once():
            pass
        assert c.goaway == ErrorCodes.PROTOCOL_ERROR
    finally:
        c.close()
    c = H2Client(tls_port, tls)  # and the worker serves the next connection
    try:
        assert c.get("/health").status == 200
    finally:
        c.close()


@pytest.mark.slow
def test_shutdown_says_goaway_and_finishes_streams_in_flight(tmp_path: Path) -> None:
    """SIGTERM: GOAWAY (NO_ERROR) at once, the request in flight still answered."""

    class Slow(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 (the stdlib's spelling)
            time.sleep(1.5)
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"slow\n")

        def log_message(self, *args: object) -> None:
            pass

    backend = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    port, h2c_port = free_port(), free_port()
    config = f"""\
[server]
listen = ["127.0.0.1:{port}", {{ address = "127.0.0.1:{h2c_port}", h2c = true }}]
workers = 1
access_log = "off"
shutdown_timeout = "10s"

[[route]]
proxy = {{ pool = "slow" }}

[pool.slow]
servers = ["127.0.0.1:{backend.server_address[1]}"]
"""
    server = start_server(tmp_path, config, port)
    client = H2Client(h2c_port, timeout=10)
    try:
        sid = client.send("/wait")
        time.sleep(0.3)  # the request is with the backend
        server.proc.send_signal(signal.SIGTERM)
        answer = client.wait(sid)
        assert (answer.status, answer.body) == (200, b"slow\n")
        assert client.goaway == 0  # NO_ERROR
        assert server.proc.wait(10) == 0
    finally:
        client.close()
        server.terminate()
        backend.shutdown()
        backend.server_close()


def test_small_windows_hold_responses_back(h2server, tls) -> None:
    """A client whose stream window is 100 bytes gets every byte, 100 at a time (the
    whole-response shortcut only applies when the windows allow it)."""
    _, tls_port, _ = h2server
    c = H2Client(tls_port, tls, window=100)
    try:
        a = c.get("/static/big.bin", [(b"range", b"bytes=0-4999")])
        assert (a.status, len(a.body)) == (206, 5000)
        assert a.body == b"0123456789" * 500
        assert c.get("/health").body == b"ok\n"
        a = c.get("/api/small-window")
        assert a.body == b"backend /api/small-window\n"
    finally:
        c.close()
