"""Send part of an open file to the client: sendfile(2), or read and write.

uvloop has no `loop.sendfile` (asyncio's own would fall back to read-and-write), so
zero-copy is done here, by hand, in the three steps it needs:

1. Never reorder: bytes already queued on the transport (the response head, a
   multipart part header) must reach the socket first. We wait until the transport's
   write buffer is empty, by lowering its high-water mark to 0 so that
   `pause_writing` fires now and `resume_writing` fires once it has drained.
2. Send with os.sendfile on a dup() of the socket. uvloop refuses add_writer on a
   descriptor a transport owns, but epoll keys registrations on descriptor + open
   file description, so a duplicate descriptor can be watched for writability on
   its own; it also keeps the socket number from being reused under us.
3. Flow control and timeouts: EAGAIN → wait until writable, with the connection's
   deadline set to now + write_timeout (the worker's tick closes a stalled client);
   a closed connection cancels the task (connection_lost), and EPIPE/ECONNRESET
   abort the transport (which, reading paused, has not seen the peer go) and end
   the exchange as a client disconnect.

`sendfile = false` (and the tests' switch) uses the same entry point with pread in a
thread and transport writes under the usual drain backpressure.
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING

from frontdesk.server.connection import _NEVER, BUSY, CLOSED
from frontdesk.server.exchange import ClientDisconnected

if TYPE_CHECKING:
    from frontdesk.server.exchange import ResponseWriter
    from frontdesk.server.protocol import HttpProtocol

READ_CHUNK = 64 * 1024  # read-and-write fallback: bytes per pread (memory per connection)
_MAX_SENDFILE = 0x7FFFF000  # Linux transfers at most this much per call


class FileShrunk(Exception):
    """The file ended before the promised length (truncated while being sent):
    the response framing is broken and the connection must close."""


async def send_file(
    out: ResponseWriter, fd: int, offset: int, count: int, use_sendfile: bool
) -> None:
    """Send `count` bytes of `fd` from `offset` as (part of) the response body."""
    if out.head_only or count <= 0:
        return
    conn = out.connection
    # Over TLS the bytes must pass through the TLS transport: never sendfile(2).
    if use_sendfile and not conn.https and conn.transport.get_extra_info("socket") is not None:
        await _sendfile(conn, fd, offset, count, out)
    else:
        await _read_write(out, fd, offset, count)


async def wait_flushed(conn: HttpProtocol) -> None:
    """Until everything queued on the transport has been handed to the kernel."""
    transport = conn.transport
    while transport.get_write_buffer_size():
        if conn.state == CLOSED:
            raise ClientDisconnected()
        low, high = transport.get_write_buffer_limits()
        # High-water 0: the transport pauses us at once and resumes at empty (low 0).
        transport.set_write_buffer_limits(high=0, low=0)
        try:
            await conn.drain()
        finally:
            if conn.state != CLOSED:
                transport.set_write_buffer_limits(high=high, low=low)


async def _sendfile(
    conn: HttpProtocol, fd: int, offset: int, count: int, out: ResponseWriter | None
) -> None:
    await wait_flushed(conn)
    if conn.state == CLOSED:
        raise ClientDisconnected()
    sock = os.dup(conn.transport.get_extra_info("socket").fileno())
    writable = _Writable(conn, sock)
    try:
        while count > 0:
            try:
                sent = os.sendfile(sock, fd, offset, min(count, _MAX_SENDFILE))
            except BlockingIOError:
                await writable.wait()
                continue
            except (BrokenPipeError, ConnectionError) as exc:
                # Learnt on our dup(): the transport, its reading paused while the
                # answer is sent, does not know. Unclosed, the connection would stay
                # BUSY with no deadline, and shutdown and reload wait for it in vain.
                conn.transport.abort()
                raise ClientDisconnected() from exc
            if sent == 0:
                raise FileShrunk()
            offset += sent
            count -= sent
            if out is not None:
                out.count_sent(sent)
    finally:
        writable.close()
        os.close(sock)


def answer_with_file(conn: HttpProtocol, head: bytes, fd: int, size: int) -> None:
    """The hot lane's answer with a file body: `head`, then `size` bytes of `fd`.

    Called while parsing (answers to earlier pipelined requests may be waiting in
    `conn._out`): those and the head go to the transport first, and when the
    transport has handed all of it to the kernel the body is sendfile'd right here,
    with no task — the common case for a file that fits the socket buffer. Whatever
    the socket does not take now is sent by a task that owns a dup() of the file;
    while it runs, later requests queue (`_active`), as for any streamed answer.
    """
    transport = conn.transport
    out = conn._out
    if out:
        out.append(head)
        transport.write(b"".join(out))
        out.clear()
    else:
        transport.write(head)
    sent = 0
    if not transport.get_write_buffer_size():
        try:
            sent = os.sendfile(transport.get_extra_info("socket").fileno(), fd, 0, size)
        except BlockingIOError:
            sent = 0
        except OSError:
            transport.abort()  # the client is gone
            return
        if sent == size:
            return
    loop = asyncio.get_running_loop()
    conn._active = loop.create_task(_finish_file(conn, os.dup(fd), sent, size - sent))


async def _finish_file(conn: HttpProtocol, fd: int, offset: int, count: int) -> None:
    try:
        await _sendfile(conn, fd, offset, count, None)
    except (ClientDisconnected, FileShrunk):
        conn.transport.close()  # gone, or the promised length cannot be kept
        return
    except asyncio.CancelledError:
        return  # connection_lost
    finally:
        os.close(fd)
    conn._active = None
    conn._next_in_queue()


class _Writable:
    """Waits for the dup'ed socket to become writable. The descriptor is registered
    with the loop once per file, not once per wait (two epoll_ctl calls saved each
    time the socket buffer fills); between waits the callback finds no waiter."""

    __slots__ = ("_conn", "_sock", "_loop", "_waiter")

    def __init__(self, conn: HttpProtocol, sock: int) -> None:
        self._conn = conn
        self._sock = sock
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiter: asyncio.Future[None] | None = None

    def _ready(self) -> None:
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    async def wait(self) -> None:
        conn = self._conn
        if conn.state == CLOSED:
            raise ClientDisconnected()
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self._loop.add_writer(self._sock, self._ready)
        self._waiter = self._loop.create_future()
        # No progress for write_timeout closes the connection (worker tick →
        # on_deadline → close → connection_lost cancels this task).
        conn.deadline = conn.clock.now + conn.limits.write_timeout
        try:
            await self._waiter
        finally:
            self._waiter = None
            if conn.state == BUSY:
                conn.deadline = _NEVER

    def close(self) -> None:
        if self._loop is not None:
            self._loop.remove_writer(self._sock)
            self._loop = None


async def _read_write(out: ResponseWriter, fd: int, offset: int, count: int) -> None:
    loop = asyncio.get_running_loop()
    while count > 0:
        chunk = await loop.run_in_executor(None, os.pread, fd, min(count, READ_CHUNK), offset)
        if not chunk:
            raise FileShrunk()
        out.write(chunk)
        offset += len(chunk)
        count -= len(chunk)
        await out.drain()
