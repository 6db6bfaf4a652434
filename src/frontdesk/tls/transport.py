"""TLS for a listener's connections: OpenSSL through memory BIOs, with a lean record path.

uvloop's SSL transport is general (client and server, renegotiation, buffered
protocols, read-ahead, its own flow control of plaintext): a 1 KiB keep-alive
exchange cost ~56 us of CPU through it against ~22 us in plain HTTP, and a profile
put most of the difference in its state machine, not in OpenSSL. A server speaking
TLS 1.2/1.3 without renegotiation (contexts.py sets OP_NO_RENEGOTIATION) needs far
less, so `TlsConnection` is both halves of one connection:

- to the TCP transport, the protocol: ciphertext in, `data_received` → the incoming
  BIO → the handshake, then `SSLObject.read` one record at a time → the HTTP
  protocol's `data_received`;
- to the HTTP protocol (or the HTTP/2 one after ALPN), the transport: `write` →
  `SSLObject.write` → the outgoing BIO → one write to the TCP transport.

Per exchange that is one BIO write, one read per record, one SSL write and one BIO
read: no exception when the incoming bytes end on a record boundary (the loop stops
on `pending`), no timer, no copy of the plaintext. Flow control is the TCP
transport's own: its buffer holds the ciphertext (the outgoing BIO is emptied at
every write), so `pause_writing` / `resume_writing` are passed up unchanged and
`get_write_buffer_size` is its size; `pause_reading` leaves unread records encrypted
in the incoming BIO until `resume_reading`.

Closing sends close_notify (RFC 8446 §6.1) without waiting for the peer's ("a party
MUST NOT be required to wait"); the peer's close_notify, or a TCP end without one,
reaches the HTTP protocol as `eof_received` and then closes, since TLS has no
half-close. A handshake that fails or does not finish within `handshake_timeout`
closes the connection, after the alert OpenSSL queued; nothing is logged for it
(scanners and impatient clients do this all day).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["TlsConnection", "tls_factory"]

RECORD_MAX = 16384  # RFC 8446 §5.1: at most 2^14 bytes of plaintext per record

_WANT = (ssl.SSLWantReadError, ssl.SSLWantWriteError)


class TlsConnection(asyncio.Protocol, asyncio.Transport):
    """One TLS connection: the TCP transport's protocol and the HTTP protocol's
    transport (see the module text)."""

    def __init__(
        self,
        factory: Callable[[], asyncio.Protocol],
        context: ssl.SSLContext,
        handshake_timeout: float,
    ) -> None:
        super().__init__()
        self._factory = factory
        self._context = context
        self._timeout = handshake_timeout
        self._raw: asyncio.Transport | None = None
        self._app: asyncio.Protocol | None = None  # set once the handshake is done
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._object: ssl.SSLObject | None = None
        self._ssl: Any = None  # the _ssl object under `_object`: its C methods, no wrapper
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._paused = False  # the application asked not to be given data
        self._closing = False

    # -- the TCP transport's side --------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._raw = transport  # type: ignore[assignment]  # uvloop's TCPTransport
        obj = self._context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        self._object = obj
        self._ssl = obj._sslobj  # type: ignore[attr-defined]
        self._loop = asyncio.get_running_loop()
        self._timer = self._loop.call_later(self._timeout, self._too_slow)

    def data_received(self, data: bytes) -> None:
        self._incoming.write(data)
        if self._app is not None:
            self._read()
        elif not self._closing:
            self._handshake()

    def eof_received(self) -> bool | None:
        # The TCP stream ended without close_notify (a truncation attack is only a
        # concern for bodies framed by the close, which HTTP/1.1 responses are not
        # here): what was read is all there is.
        app = self._app
        if app is not None:
            app.eof_received()
        self.close()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        app, self._app = self._app, None
        if app is not None:
            app.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._app is not None:
            self._app.pause_writing()

    def resume_writing(self) -> None:
        if self._app is not None:
            self._app.resume_writing()

    # -- TLS ---------------------------------------------------------------------

    def _handshake(self) -> None:
        try:
            self._ssl.do_handshake()
        except _WANT:
            self._flush()
            return
        except (ssl.SSLError, OSError, ValueError):
            # A bad hello, an unknown protocol, a certificate the client refused:
            # send the alert OpenSSL wrote, then close.
            self._flush()
            self._give_up()
            return
        self._flush()  # the last flight: Finished, session tickets
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        app = self._factory()
        self._app = app
        app.connection_made(self)
        if self._incoming.pending and not self._closing:
            self._read()  # the first request came with the client's Finished

    def _read(self) -> None:
        """Decrypt the records received and hand their plaintext up, one by one."""
        incoming = self._incoming
        sslobj = self._ssl
        try:
            while not self._paused and not self._closing:
                data = sslobj.read(RECORD_MAX)
                if not data:  # close_notify (RFC 8446 §6.1)
                    self.eof_received()
                    return
                app = self._app
                if app is None:
                    return
                app.data_received(data)
                if not incoming.pending and not sslobj.pending():
                    break
        except _WANT:
            pass  # the rest of a record is still on its way
        except (ssl.SSLError, OSError):
            self._give_up()  # a bad record MAC, an alert from the peer
            return
        if self._outgoing.pending:
            self._flush()  # a post-handshake answer (TLS 1.3 KeyUpdate)

    def _flush(self) -> None:
        raw = self._raw
        if self._outgoing.pending and raw is not None and not raw.is_closing():
            raw.write(self._outgoing.read())

    def _too_slow(self) -> None:
        self._timer = None
        if self._app is None:
            self._give_up()

    def _give_up(self) -> None:
        self._closing = True
        if self._raw is not None:
            self._raw.close()  # after the alert, if one was queued

    # -- the application's transport ---------------------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing or not data:
            return
        try:
            self._ssl.write(data)
        except (ssl.SSLError, OSError):
            self._give_up()
            return
        raw = self._raw
        if raw is not None:
            raw.write(self._outgoing.read())

    def writelines(self, list_of_data: Iterable[bytes | bytearray | memoryview]) -> None:
        self.write(b"".join(list_of_data))

    def can_write_eof(self) -> bool:
        return False  # TLS has no half-close: closing sends close_notify

    def write_eof(self) -> None:
        raise NotImplementedError("TLS cannot half-close; close() instead")

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        if self._app is not None:
            try:
                self._ssl.shutdown()  # queues close_notify; the peer's is not awaited
            except (ssl.SSLError, OSError, ValueError):
                pass
            self._flush()
        if self._raw is not None:
            self._raw.close()  # after what is buffered

    def abort(self) -> None:
        self._closing = True
        if self._raw is not None:
            self._raw.abort()

    def is_closing(self) -> bool:
        return self._closing

    def pause_reading(self) -> None:
        if not self._paused:
            self._paused = True
            if self._raw is not None:
                self._raw.pause_reading()

    def resume_reading(self) -> None:
        if self._paused:
            self._paused = False
            if self._raw is not None:
                self._raw.resume_reading()
            loop = self._loop
            if loop is not None and (self._incoming.pending or self._ssl.pending()):
                # Records that arrived before the pause: later, not inside the
                # caller (which may be the application's own data_received).
                loop.call_soon(self._read_later)

    def _read_later(self) -> None:
        if self._app is not None and not self._paused:
            self._read()

    def is_reading(self) -> bool:
        return not self._paused and self._raw is not None and self._raw.is_reading()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        assert isinstance(protocol, asyncio.Protocol)
        self._app = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        assert self._app is not None
        return self._app

    def get_write_buffer_size(self) -> int:
        return self._raw.get_write_buffer_size() if self._raw is not None else 0

    def get_write_buffer_limits(self) -> tuple[int, int]:
        assert self._raw is not None
        return self._raw.get_write_buffer_limits()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        if self._raw is not None:
            self._raw.set_write_buffer_limits(high, low)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "ssl_object":
            return self._object
        if name == "sslcontext":
            return self._context
        if name == "peercert":
            return self._object.getpeercert() if self._object is not None else default
        if name == "cipher":
            return self._object.cipher() if self._object is not None else default
        if name == "compression":
            return self._object.compression() if self._object is not None else default
        if self._raw is None:
            return default
        return self._raw.get_extra_info(name, default)


def tls_factory(
    factory: Callable[[], asyncio.Protocol], context: ssl.SSLContext | None, timeout: float
) -> Callable[[], asyncio.Protocol]:
    """The protocol factory of a TLS listener: `factory`'s protocol behind TLS."""
    if context is None:
        raise RuntimeError("a tls listener without a certificate")  # config checks this first
    return lambda: TlsConnection(factory, context, timeout)
