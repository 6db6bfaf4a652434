"""The known HTTP/2 floods, each against one worker for 10 s, while a normal client on
another connection keeps asking: its requests are all answered, the flooding
connections are closed (GOAWAY), and the worker's memory grows by less than 20 MB.

The flooder writes raw frames (hyperframe, hpack): rapid reset (CVE-2023-44487),
CONTINUATION flood (CVE-2024-27316), PING, SETTINGS and empty DATA floods
(CVE-2019-9512/-9515/-9518), and an HPACK bomb (one large dynamic-table entry
referenced thousands of times in one block). Run with -s to see the figures."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from h2_helpers import H2Client, vm_rss_kb
from hpack import Encoder
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    HeadersFrame,
    PingFrame,
    RstStreamFrame,
    SettingsFrame,
)
from proc_helpers import Server, free_port, live_children, start_server

pytestmark = pytest.mark.slow

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
FLOOD_SECONDS = 10.0
ENHANCE_YOUR_CALM = 11


@pytest.fixture(scope="module")
def h2c(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, int]]:
    d = tmp_path_factory.mktemp("floods")
    (d / "www").mkdir()
    (d / "www" / "hello.txt").write_text("hello\n")
    port, h2c_port = free_port(), free_port()
    config = f"""\
[server]
listen = ["127.0.0.1:{port}", {{ address = "127.0.0.1:{h2c_port}", h2c = true }}]
workers = 1
access_log = "off"
shutdown_timeout = "5s"

[[route]]
match = {{ path = "/health" }}
respond = {{ body = "ok\\n" }}

[[route]]
match = {{ path = "/static/" }}
static = {{ root = "www" }}
"""
    server = start_server(Path(d), config, port)
    yield server, h2c_port
    server.terminate()


def _headers(sid: int, block: bytes, end_headers: bool = True, end: bool = True) -> bytes:
    f = HeadersFrame(sid)
    f.data = block
    f.flags = {"END_HEADERS"} if end_headers else set()
    if end:
        f.flags.add("END_STREAM")
    return f.serialize()


class Flooder:
    """A raw HTTP/2 connection that writes what a test tells it to; reconnects when
    the server closes it, counting the GOAWAYs with ENHANCE_YOUR_CALM."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock: socket.socket | None = None
        self.encoder = Encoder()
        self.sid = 1
        self.connections = 0
        self.calm = 0
        self.frames = 0

    def connect(self) -> socket.socket:
        if self.sock is None:
            self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=2)
            self.sock.sendall(PREFACE + SettingsFrame(0).serialize())
            self.encoder = Encoder()
            self.sid = 1
            self.connections += 1
        return self.sock

    def next_sid(self) -> int:
        sid = self.sid
        self.sid += 2
        return sid

    def send(self, data: bytes, frames: int) -> None:
        sock = self.connect()
        try:
            sock.sendall(data)
            self.frames += frames
        except OSError:  # closed under us (GOAWAY and close), or not reading: anew
            self._drop()
            return
        self._poll()

    def _poll(self) -> None:
        """Read what the server sent without blocking: a GOAWAY ends this connection."""
        sock = self.sock
        assert sock is not None
        sock.setblocking(False)
        try:
            while True:
                data = sock.recv(1 << 20)
                if not data:
                    self._drop()
                    return
                # GOAWAY: type 7; its error code is the last 4 bytes of an 8-byte payload.
                at = data.find(b"\x00\x00\x08\x07\x00\x00\x00\x00\x00")
                if at >= 0 and data[at + 13 : at + 17] == ENHANCE_YOUR_CALM.to_bytes(4, "big"):
                    self.calm += 1
        except BlockingIOError:
            pass
        except OSError:
            self._drop()
            return
        finally:
            if self.sock is not None:
                self.sock.setblocking(True)
                self.sock.settimeout(2)

    def close(self) -> None:
        self._drop()

    def _drop(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def request_block(self, path: bytes = b"/static/hello.txt") -> bytes:
        return self.encoder.encode(
            [(b":method", b"GET"), (b":scheme", b"http"), (b":path", path), (b":authority", b"x")]
        )


def rapid_reset(f: Flooder) -> None:
    # Connect first: a reconnection starts a new HPACK encoder and stream ids, so the
    # blocks must be encoded after it (encoded before, they name the old connection's
    # table entries and ids, and the server rightly ends the connection for that).
    f.connect()
    out = []
    for _ in range(50):
        sid = f.next_sid()
        out.append(_headers(sid, f.request_block()))
        out.append(RstStreamFrame(sid, error_code=8).serialize())
    f.send(b"".join(out), 100)


def continuation(f: Flooder) -> None:
    f.connect()
    if f.sid == 1:  # a header block that never ends
        f.send(_headers(f.next_sid(), f.request_block(), end_headers=False), 1)
    frame = ContinuationFrame(f.sid - 2)
    frame.data = b"\x00\x05x-pad\x7f\x81\x07" + b"a" * 4000  # never decoded: refused first
    f.send(frame.serialize() * 16, 16)


def ping(f: Flooder) -> None:
    f.send(PingFrame(0, opaque_data=b"12345678").serialize() * 200, 200)


def settings(f: Flooder) -> None:
    frame = SettingsFrame(0, settings={SettingsFrame.INITIAL_WINDOW_SIZE: 65535})
    f.send(frame.serialize() * 200, 200)


def empty_data(f: Flooder) -> None:
    f.connect()
    if f.sid == 1:  # a request whose body never comes, only empty DATA frames
        post = f.encoder.encode(
            [(b":method", b"POST"), (b":scheme", b"http"), (b":path", b"/health"),
             (b":authority", b"x")]
        )  # fmt: skip
        f.send(_headers(f.next_sid(), post, end=False), 1)
    f.send(DataFrame(f.sid - 2).serialize() * 200, 200)


def hpack_bomb(f: Flooder) -> None:
    f.connect()
    if f.sid == 1:  # one 4 KB field into the dynamic table (incremental indexing)
        block = f.encoder.encode([(b"x-bomb", b"a" * 4000)] + [(b":method", b"GET")])
        f.send(_headers(f.next_sid(), block), 1)
    # Then blocks of 16,000 one-byte references to it (index 62): 64 MB decoded each.
    bomb = b"\x82\x86\x84" + b"\xbe" * 16000
    f.send(_headers(f.next_sid(), bomb), 1)


# Each flood, and what the worker logs when it closes a flooding connection.
FLOODS: dict[str, tuple[Callable[[Flooder], None], str]] = {
    "rapid-reset": (rapid_reset, "too many stream resets"),
    "continuation": (continuation, "header block too large"),
    "ping": (ping, "flood of control frames"),
    "settings": (settings, "flood of control frames"),
    "empty-data": (empty_data, "flood of empty DATA frames"),
    "hpack-bomb": (hpack_bomb, "Oversized header block"),
}


@pytest.mark.parametrize("name", list(FLOODS))
def test_flood(h2c: tuple[Server, int], name: str) -> None:
    server, port = h2c
    worker = live_children(server.pid)[0]
    normal = H2Client(port, timeout=5)
    assert normal.get("/health").status == 200
    before = vm_rss_kb(worker)
    peak = before
    answers: list[tuple[int, float]] = []
    stop = threading.Event()

    def normal_traffic() -> None:
        while not stop.is_set():
            began = time.monotonic()
            a = normal.get("/static/hello.txt")
            answers.append((a.status, time.monotonic() - began))
            stop.wait(0.1)

    thread = threading.Thread(target=normal_traffic)
    thread.start()
    flooder = Flooder(port)
    flood, reason = FLOODS[name]
    log_from = server.log_size()
    end = time.monotonic() + FLOOD_SECONDS
    try:
        while time.monotonic() < end:
            flood(flooder)
            peak = max(peak, vm_rss_kb(worker))
    finally:
        stop.set()
        thread.join(10)
        normal.close()
        flooder.close()
    after = vm_rss_kb(worker)
    growth = (max(peak, after) - before) / 1024
    slowest = max(t for _, t in answers) if answers else -1.0
    print(
        f"\n{name}: {flooder.frames} frames on {flooder.connections} connections, "
        f"{flooder.calm} GOAWAY ENHANCE_YOUR_CALM seen; worker RSS {before} KiB -> peak "
        f"{peak} KiB (+{growth:.1f} MB); normal traffic: {len(answers)} answers, "
        f"statuses {sorted({s for s, _ in answers})}, slowest {slowest * 1000:.0f} ms"
    )
    assert not thread.is_alive()
    assert len(answers) >= 20 and all(s == 200 for s, _ in answers)
    assert growth < 20
    assert flooder.connections > 1  # the server ended flooding connections
    server.wait_log(reason, start=log_from)
    assert server.proc.poll() is None and live_children(server.pid) == [worker]
