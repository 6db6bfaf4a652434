"""TlsConnection in-process: a client SSLObject over memory BIOs on one side, a fake
TCP transport on the other, and a recording application protocol on top."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from typing import Any

import pytest
import trustme
from hypothesis import given, settings
from hypothesis import strategies as st

from frontdesk.tls.transport import TlsConnection


class Raw:
    """The TCP transport under the connection: records what it is given."""

    def __init__(self) -> None:
        self.out: list[bytes] = []
        self.closed = False
        self.aborted = False
        self.reading = True
        self.limits: tuple[int | None, int | None] = (None, None)

    def write(self, data: bytes) -> None:
        assert not self.closed
        self.out.append(bytes(data))

    def take(self) -> bytes:
        data = b"".join(self.out)
        self.out.clear()
        return data

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def is_reading(self) -> bool:
        return self.reading

    def get_write_buffer_size(self) -> int:
        return 7

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self.limits = (high, low)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5555)}.get(name, default)


class App(asyncio.Protocol):
    """Answers every chunk it is given with `reply`; records everything."""

    def __init__(self, reply: bytes = b"") -> None:
        self.reply = reply
        self.received: list[bytes] = []
        self.transport: Any = None
        self.eof = False
        self.lost: list[Exception | None] = []
        self.paused_writing = 0

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.received.append(data)
        if self.reply:
            self.transport.write(self.reply)

    def eof_received(self) -> bool | None:
        self.eof = True
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost.append(exc)

    def pause_writing(self) -> None:
        self.paused_writing += 1


@pytest.fixture(scope="module")
def contexts(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    ca = trustme.CA()
    cert = ca.issue_cert("localhost")
    d = tmp_path_factory.mktemp("tls")
    cert.cert_chain_pems[0].write_to_path(str(d / "c.pem"))
    cert.private_key_pem.write_to_path(str(d / "k.pem"))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(str(d / "c.pem"), str(d / "k.pem"))
    server.set_alpn_protocols(["h2", "http/1.1"])
    client = ssl.create_default_context()
    ca.configure_trust(client)
    client.set_alpn_protocols(["http/1.1"])
    return server, client


class Pair:
    """A client and a TlsConnection, the bytes carried between them by hand."""

    def __init__(self, contexts: tuple[ssl.SSLContext, ssl.SSLContext], reply: bytes) -> None:
        server, client = contexts
        self.apps: list[App] = []

        def factory() -> App:
            app = App(reply)
            self.apps.append(app)
            return app

        self.conn = TlsConnection(factory, server, 30.0)
        self.raw = Raw()
        self.conn.connection_made(self.raw)  # type: ignore[arg-type]
        self.cin, self.cout = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.client = client.wrap_bio(self.cin, self.cout, server_hostname="localhost")

    def handshake(self) -> None:
        for _ in range(5):
            try:
                self.client.do_handshake()
                self.conn.data_received(self.cout.read())  # the client's Finished
                self.cin.write(self.raw.take())  # the session tickets
                assert self.apps, "the server's handshake did not end"
                return
            except ssl.SSLWantReadError:
                self.conn.data_received(self.cout.read())
                self.cin.write(self.raw.take())
        raise AssertionError("no handshake")

    def send(self, plaintext: bytes) -> bytes:
        """The ciphertext of `plaintext` as the client would put it on the wire."""
        self.client.write(plaintext)
        return self.cout.read()

    def receive(self) -> bytes:
        """What the client decrypts of everything the server wrote."""
        self.cin.write(self.raw.take())
        out = b""
        while True:
            try:
                chunk = self.client.read(65536)
            except ssl.SSLWantReadError:
                return out
            if not chunk:
                return out
            out += chunk


@pytest.fixture
def pair(contexts: tuple[ssl.SSLContext, ssl.SSLContext]) -> Iterator[Pair]:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    async def make() -> Pair:
        return Pair(contexts, b"pong")

    p = loop.run_until_complete(make())
    yield p
    p.conn.connection_lost(None)
    loop.close()
    asyncio.set_event_loop(None)


def test_exchange_after_handshake(pair: Pair) -> None:
    pair.handshake()
    (app,) = pair.apps
    assert app.transport is pair.conn
    assert pair.conn.get_extra_info("ssl_object").selected_alpn_protocol() == "http/1.1"
    assert pair.conn.get_extra_info("peername") == ("127.0.0.1", 5555)
    for n in range(3):
        pair.conn.data_received(pair.send(b"ping %d" % n))
        assert pair.receive() == b"pong"
    assert app.received == [b"ping 0", b"ping 1", b"ping 2"]


@settings(max_examples=25, deadline=None)
@given(cuts=st.lists(st.integers(min_value=1, max_value=400), max_size=12))
def test_ciphertext_in_any_pieces(
    contexts: tuple[ssl.SSLContext, ssl.SSLContext], cuts: list[int]
) -> None:
    """However TCP splits the records, the plaintext arrives whole and in order."""
    loop = asyncio.new_event_loop()
    try:
        asyncio.set_event_loop(loop)
        p = loop.run_until_complete(_make(contexts))
        p.handshake()
        wire = b"".join(p.send(b"request %d;" % n) for n in range(4))
        at = 0
        for cut in cuts:
            p.conn.data_received(wire[at : at + cut])
            at += cut
        if at < len(wire):
            p.conn.data_received(wire[at:])
        assert b"".join(p.apps[0].received) == b"".join(b"request %d;" % n for n in range(4))
    finally:
        loop.close()
        asyncio.set_event_loop(None)


async def _make(contexts: tuple[ssl.SSLContext, ssl.SSLContext]) -> Pair:
    return Pair(contexts, b"")


def test_paused_reading_keeps_records_until_resumed(pair: Pair) -> None:
    pair.handshake()
    (app,) = pair.apps
    pair.conn.pause_reading()
    assert not pair.raw.reading and not pair.conn.is_reading()
    pair.conn.data_received(pair.send(b"one") + pair.send(b"two"))
    assert app.received == []  # still encrypted in the incoming BIO
    pair.conn.resume_reading()
    assert pair.raw.reading
    loop = asyncio.get_event_loop()
    loop.run_until_complete(asyncio.sleep(0))  # delivered soon, not inside resume_reading
    assert app.received == [b"one", b"two"]


def test_close_sends_close_notify(pair: Pair) -> None:
    pair.handshake()
    pair.conn.write(b"last words")
    pair.conn.close()
    assert pair.raw.closed and pair.conn.is_closing()
    pair.cin.write(pair.raw.take())
    assert pair.client.read(100) == b"last words"
    assert pair.client.read(100) == b""  # close_notify: a clean end, not a truncation
    pair.conn.write(b"too late")  # ignored, as by any closing transport
    assert pair.raw.out == []


def test_peer_close_notify_is_eof_then_close(pair: Pair) -> None:
    pair.handshake()
    try:
        pair.client.unwrap()
    except ssl.SSLWantReadError:
        pass
    pair.conn.data_received(pair.cout.read())
    assert pair.apps[0].eof and pair.raw.closed


def test_tcp_end_without_close_notify(pair: Pair) -> None:
    pair.handshake()
    pair.conn.eof_received()
    assert pair.apps[0].eof and pair.raw.closed
    pair.conn.connection_lost(None)
    assert pair.apps[0].lost == [None]


def test_garbage_instead_of_a_hello_closes_without_an_application(pair: Pair) -> None:
    pair.conn.data_received(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert pair.raw.closed and pair.apps == []
    pair.conn.data_received(b"more")  # after giving up: ignored
    assert pair.apps == []


def test_handshake_that_never_ends_is_closed(
    contexts: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    async def run() -> Raw:
        conn = TlsConnection(App, contexts[0], 0.05)
        raw = Raw()
        conn.connection_made(raw)  # type: ignore[arg-type]
        await asyncio.sleep(0.2)
        return raw

    assert asyncio.run(run()).closed


def test_a_large_write_arrives_whole(pair: Pair) -> None:
    pair.handshake()
    body = bytes(range(256)) * 4096  # 1 MiB: 64 records
    pair.conn.writelines([body[:1000], memoryview(body)[1000:]])
    assert pair.receive() == body


def test_flow_control_is_the_tcp_transports(pair: Pair) -> None:
    pair.handshake()
    assert pair.conn.get_write_buffer_size() == 7
    pair.conn.set_write_buffer_limits(high=0, low=0)
    assert pair.raw.limits == (0, 0)
    pair.conn.pause_writing()
    assert pair.apps[0].paused_writing == 1
    assert not pair.conn.can_write_eof()


def test_set_protocol_hands_the_connection_over(pair: Pair) -> None:
    pair.handshake()
    other = App(b"h2")
    pair.conn.set_protocol(other)
    other.connection_made(pair.conn)  # as listeners.py hands an "h2" connection over
    assert pair.conn.get_protocol() is other
    pair.conn.data_received(pair.send(b"frame"))
    assert other.received == [b"frame"] and pair.receive() == b"h2"
