"""Large files over real sockets: sendfile(2) and the read/write fallback under flow
control, stalled and vanishing clients, files truncated mid-send, and memory.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest
from static_site import request, until_changed

MIB = 1024 * 1024


def _routes(root: Path) -> str:
    return f"""
[[route]]
match = {{ path = "/sf/" }}
static = {{ root = "{root}", sendfile = true }}

[[route]]
match = {{ path = "/rw/" }}
static = {{ root = "{root}", sendfile = false }}

[[route]]
match = {{ path = "/hot/" }}
static = {{ root = "{root}", memory_cache_max_file = "8MB" }}

[[route]]
match = {{ exact = "/ping" }}
respond = {{ body = "pong" }}
"""


@pytest.fixture
def big_site(server, tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    with open(root / "huge.bin", "wb") as f:
        f.truncate(2 * 1024 * MIB)  # 2 GiB, sparse
    (root / "twenty.bin").write_bytes(os.urandom(20 * MIB))
    srv = server(_routes(root), write_timeout="1s")
    return srv, root


def _worker_pid(srv) -> int:
    pid = srv.proc.pid
    kids: list[int] = []
    for task in os.listdir(f"/proc/{pid}/task"):
        kids += [int(x) for x in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
    assert len(kids) == 1
    return kids[0]


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _sockets(pid: int) -> int:
    """Open socket descriptors of a process."""
    fds = Path(f"/proc/{pid}/fd")
    count = 0
    for fd in fds.iterdir():
        try:
            count += os.readlink(fd).startswith("socket:")
        except FileNotFoundError:
            pass  # closed while listed
    return count


def _ping(srv) -> float:
    start = time.monotonic()
    with srv.connect() as c:
        c.send(b"GET /ping HTTP/1.1\r\nHost: t\r\n\r\n")
        assert c.read_response().body == b"pong"
    return time.monotonic() - start


@pytest.mark.parametrize("prefix", ["/sf/", "/rw/"])
def test_stalled_reader_is_closed_after_write_timeout(big_site, prefix):
    srv, _ = big_site
    sock = socket.create_connection(("127.0.0.1", srv.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    sock.sendall(f"GET {prefix}huge.bin HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    time.sleep(3.5)  # write_timeout is 1s (+ up to a tick): we read nothing meanwhile
    assert _ping(srv) < 1.0  # the worker is not blocked by the stalled send
    sock.settimeout(10)
    received = 0
    start = time.monotonic()
    while True:
        try:
            chunk = sock.recv(1 << 20)
        except ConnectionResetError:
            break
        if not chunk:
            break
        received += len(chunk)
        assert time.monotonic() - start < 10, "server never gave up on the stalled client"
    sock.close()
    assert received < 200 * MIB  # far less than the 2 GiB promised: it was cut off


@pytest.mark.parametrize("prefix", ["/sf/", "/rw/"])
def test_client_gone_mid_file_leaves_the_server_healthy(big_site, prefix):
    """Each vanished client's connection is closed: its socket does not stay open in
    the worker (sendfile(2) learns of the reset on a dup() of the socket, not on the
    transport), so nothing is left for a shutdown or a reload to wait for."""
    srv, _ = big_site
    assert _ping(srv) < 1.0
    worker = _worker_pid(srv)
    before = _sockets(worker)
    for _ in range(5):
        with srv.connect() as c:
            c.send(f"GET {prefix}huge.bin HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            c.sock.recv(65536)
    time.sleep(0.3)
    assert _ping(srv) < 1.0
    deadline = time.monotonic() + 5
    while _sockets(worker) > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _sockets(worker) <= before  # (the ping's own may have closed since)
    assert "Traceback" not in srv.stderr_text()
    start = time.monotonic()
    srv.stop()  # no connection left in flight: the worker stops at once
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("prefix", ["/sf/", "/rw/"])
def test_file_truncated_while_sent_closes_the_connection(big_site, prefix):
    srv, root = big_site
    path = root / "shrinking.bin"
    path.write_bytes(os.urandom(20 * MIB))
    sock = socket.create_connection(("127.0.0.1", srv.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    sock.sendall(f"GET {prefix}shrinking.bin HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    first = sock.recv(65536)
    assert first.startswith(b"HTTP/1.1 200")
    os.truncate(path, 1 * MIB)
    sock.settimeout(5)
    received = len(first)
    while chunk := sock.recv(1 << 20):
        received += len(chunk)
    sock.close()
    assert received < 20 * MIB  # the short body ends with the connection, no hang
    assert _ping(srv) < 1.0


def test_sendfile_and_fallback_send_the_same_bytes(big_site):
    srv, root = big_site
    want = (root / "twenty.bin").read_bytes()
    with srv.connect(timeout=20) as c:
        for prefix in ("/sf/", "/rw/", "/sf/"):
            resp = request(c, prefix + "twenty.bin")
            assert resp.body == want


@pytest.mark.slow
@pytest.mark.parametrize("prefix, limit_mib", [("/sf/", 8), ("/rw/", 32)])
def test_2gib_file_to_100_clients_keeps_memory_flat(big_site, prefix, limit_mib):
    """sendfile: the file never passes through the process, whatever its size; the
    read/write fallback holds at most a chunk and the transport's high-water mark
    per connection."""
    srv, _ = big_site
    worker = _worker_pid(srv)
    _ping(srv)
    before = _rss_kib(worker)
    socks = []
    for _ in range(100):
        s = socket.create_connection(("127.0.0.1", srv.port))
        s.sendall(f"GET {prefix}huge.bin HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        socks.append(s)
    # Every client reads a little, slowly, so all 100 transfers are in flight at once.
    received = 0
    for _ in range(20):
        for s in socks:
            s.settimeout(5)
            received += len(s.recv(1 << 20))
    peak = _rss_kib(worker)
    for s in socks:
        s.close()
    grew_mib = (peak - before) / 1024
    print(f"{prefix}: worker RSS before {before} KiB, 100 transfers in flight {peak} KiB")
    assert received > 100 * 64 * 1024
    assert grew_mib < limit_mib, f"RSS grew by {grew_mib:.1f} MiB"
    assert _ping(srv) < 1.0


def test_hot_file_larger_than_the_socket_buffer_pipelined(big_site):
    """A cached file sent by the hot lane with sendfile: when the socket does not take
    it all at once, the rest follows from a task and later answers wait their turn."""
    srv, root = big_site
    body = os.urandom(6 * MIB)  # over the socket buffers, under the cache limit
    (root / "warm.bin").write_bytes(body)
    with srv.connect() as c:
        for _ in range(3):  # load, memoise, then the hot lane
            assert request(c, "/hot/warm.bin").body == body
    with srv.connect(timeout=20) as conn:
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
        one = b"GET /hot/warm.bin HTTP/1.1\r\nHost: t\r\n\r\n"
        conn.send(one * 3 + b"GET /ping HTTP/1.1\r\nHost: t\r\n\r\n")
        time.sleep(0.5)  # let the server fill the socket and wait
        got = [conn.read_response(timeout=20) for _ in range(4)]
    assert [r.body for r in got[:3]] == [body] * 3
    assert got[3].body == b"pong"


def test_access_log_records_static_answers(server, tmp_path):
    """With an access log the hot lane is off; cached and streamed answers are logged
    with their status and body size."""
    root = tmp_path / "www"
    root.mkdir()
    (root / "a.txt").write_bytes(b"A" * 100)
    (root / "big.bin").write_bytes(b"B" * (2 * MIB))
    log = tmp_path / "access.log"
    srv = server(_routes(root), access_log=str(log))
    with srv.connect() as c:
        for target in ("/sf/a.txt", "/sf/a.txt", "/sf/a.txt", "/sf/big.bin", "/sf/nope"):
            request(c, target)
    deadline = time.monotonic() + 3
    lines: list[str] = []
    while len(lines) < 5 and time.monotonic() < deadline:
        time.sleep(0.1)
        lines = [ln for ln in log.read_text().splitlines() if "/sf/" in ln] if log.exists() else []
    assert [ln.split('"')[2].split()[:2] for ln in lines] == [
        ["200", "100"],
        ["200", "100"],
        ["200", "100"],
        ["200", str(2 * MIB)],
        ["404", "14"],
    ]


def _fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_open_file_cache_follows_changes_and_holds_one_descriptor(big_site):
    """Large files stay open between requests (no lookup per request); a file replaced
    on disk is served anew within about a second, and the old descriptor is closed."""
    srv, root = big_site
    path = root / "replaced.bin"
    first, second = os.urandom(2 * MIB), os.urandom(2 * MIB + 5)
    path.write_bytes(first)
    worker = _worker_pid(srv)
    with srv.connect(timeout=20) as c:
        assert request(c, "/sf/replaced.bin").body == first
        fds = _fd_count(worker)
        for _ in range(5):
            assert request(c, "/sf/replaced.bin").body == first
        assert _fd_count(worker) == fds  # the same open file, no leak per request
        tmp = root / "replaced.tmp"
        tmp.write_bytes(second)
        os.replace(tmp, path)  # how deploy tools update files: rename over
        body = until_changed(c, "/sf/replaced.bin", first, lambda r: r.body).body
        assert body == second
        assert _fd_count(worker) <= fds  # the replaced file's descriptor was closed
        os.remove(path)
        status = until_changed(c, "/sf/replaced.bin", 200, lambda r: r.status).status
        assert status == 404
        assert _fd_count(worker) < fds
