"""Bodies stream through the proxy with bounded memory: 1 GiB each way, and a stalled
client that must slow the backend down rather than fill frontdesk's memory.

The worker's resident set size is read from /proc while the bytes flow.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from pathlib import Path

import pytest
from proc_helpers import children

GIB = 1024**3
CHUNK = 256 * 1024
RSS_GROWTH_LIMIT = 20 * 1024 * 1024
PATTERN = bytes(range(256)) * (CHUNK // 256)  # what backends.py sends, too


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class RssSampler:
    """Samples a process's RSS every 50 ms in a thread; `peak` is the highest seen."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = rss(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, rss(self.pid))

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


@pytest.fixture
def proxied(server, backends):
    b = backends("big")
    routes = (
        '[[route]]\nproxy = { pool = "a", max_body_size = "0" }\n'
        f'[pool.a]\nservers = ["{b.address}"]'
    )
    srv = server(routes)
    (worker,) = children(srv.proc.pid)
    # Warm up: imports, pools, buffers settle before the baseline is taken.
    for _ in range(20):
        resp, _ = srv.get("/bytes/1000000")
        assert resp.status == 200
    return srv, worker


def print_figure(what: str, baseline: int, peak: int) -> None:
    print(
        f"\n{what}: worker RSS {baseline / 2**20:.1f} MiB → peak {peak / 2**20:.1f} MiB "
        f"(+{(peak - baseline) / 2**20:.1f} MiB)"
    )


@pytest.mark.slow
def test_1gib_upload_with_flat_rss(proxied):
    srv, worker = proxied
    baseline = rss(worker)
    sampler = RssSampler(worker)
    digest = hashlib.sha256()
    with srv.connect(timeout=60) as c:
        c.send(b"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n" % GIB)
        for _ in range(GIB // CHUNK):
            c.sock.sendall(PATTERN)
            digest.update(PATTERN)
        resp = c.read_response(timeout=60)
    peak = sampler.stop()
    print_figure("1 GiB upload", baseline, peak)
    info = json.loads(resp.body)
    assert resp.status == 200
    assert info["body_length"] == GIB and info["body_sha256"] == digest.hexdigest()
    assert peak - baseline < RSS_GROWTH_LIMIT


@pytest.mark.slow
def test_1gib_download_with_flat_rss(proxied):
    srv, worker = proxied
    baseline = rss(worker)
    sampler = RssSampler(worker)
    with srv.connect(timeout=60) as c:
        c.send(b"GET /bytes/%d HTTP/1.1\r\nHost: h\r\n\r\n" % GIB)
        head = b""
        while b"\r\n\r\n" not in head:
            head += c.sock.recv(65536)
        head, _, first = head.partition(b"\r\n\r\n")
        assert b"Content-Length: %d" % GIB in head
        received = len(first)
        buf = bytearray(1 << 20)
        while received < GIB:
            n = c.sock.recv_into(buf)
            assert n, "closed early"
            received += n
    peak = sampler.stop()
    print_figure("1 GiB download", baseline, peak)
    assert received == GIB
    assert peak - baseline < RSS_GROWTH_LIMIT


@pytest.mark.slow
def test_stalled_client_slows_the_backend(proxied):
    """A client that stops reading: frontdesk stops reading the backend (its buffer
    stays bounded) instead of taking the whole body into memory."""
    srv, worker = proxied
    baseline = rss(worker)
    size = 512 * 1024 * 1024
    with srv.connect(timeout=60) as c:
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        c.send(b"GET /bytes/%d HTTP/1.1\r\nHost: h\r\n\r\n" % size)
        time.sleep(3)  # not reading: a fast backend could have sent it all by now
        stalled = rss(worker)
        received = 0
        buf = bytearray(1 << 20)
        while True:
            n = c.sock.recv_into(buf)
            assert n, "closed early"
            received += n
            if received >= size:  # head + body; the head is small
                break
    print_figure("stalled client", baseline, stalled)
    assert stalled - baseline < RSS_GROWTH_LIMIT
