"""Writing an answer made from a stored response (the I/O side of serve.py).

`render_hit` makes the whole bytes of a fresh memory hit, once per second of age (the
hot lane writes them as they are); `write_stored` writes any answer serve.answer() gives
for an entry (200, 304, 206, 416) through a ResponseWriter, and `write_range` streams the
rest of a body that a slower tier holds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from frontdesk.server.response import status_line

from .policy import Action, Decision
from .serve import answer, not_modified_fields

if TYPE_CHECKING:
    from frontdesk.server.exchange import ResponseWriter

    from .entry import Entry
    from .options import CacheOptions
    from .store import Body

_NO_LENGTH = (204, 304)  # RFC 9110 §8.6: no Content-Length on 204; a 304 describes the 200


# The hot lane's memo of one entry (memory.Stored.rendered), rebuilt once per second of
# age: [0] whole seconds, [1] the 200 GET bytes, [2] the HEAD bytes, [3] the
# Cache-Status member; [4] the 304, [5] the 416 and [6] the 206's (prefix, suffix) are
# made the first time a request of that shape comes in that second; [7] the time
# (time.time()) until which it holds: the next whole second of age, or the end of
# freshness if sooner. A hit before then needs no arithmetic on the entry's age.
# [8] the whole answers to conditional and range requests given this second, by the
# request's shape (CachedProxy.hot: the method and the fields serve.answer reads), with
# what the fast lane counts for each: a revalidation or a player's next range is a
# lookup. [9] the bytes [8] may still take (keys and 206 bodies; the other answers are
# the slots above): about the entry's own size, so that requests of ever new shapes
# cannot make an entry hold more than twice its bytes. [10] the last of them answered:
# (shape, bytes, its counter or None, the CachedProxy counting it). Slots [4]-[10] are
# dropped with the rest when the second changes.
AGE, GET, HEAD, MEMBER, NOT_MODIFIED, UNSATISFIABLE, PARTIAL, UNTIL, SHAPES, ROOM, LAST = range(11)


def _tail(via: bytes, age: int, member: bytes) -> bytes:
    return b"".join(
        (b"Via: 1.1 ", via, b"\r\nAge: %d\r\nCache-Status: " % age, member, b"\r\n\r\n")
    )


def render_hit(
    entry: Entry,
    fields: bytes,
    body: bytes,
    age: float,
    ttl: float,
    options: CacheOptions,
    via: bytes,
    now: float,
) -> list[object]:
    """The memo (above) for a fresh entry whose served fields are `fields` (serialised
    when stored) and body `body`, at `age` and `ttl` seconds at time `now`."""
    member = Decision(Action.HIT, entry, ttl=ttl).status_member(options)
    length = b"" if entry.status in _NO_LENGTH else b"Content-Length: %d\r\n" % len(body)
    whole = int(age)
    head = b"".join((status_line(entry.status), fields, length, _tail(via, whole, member)))
    # Age grows with the clock (or stands still before response_time: re-rendering
    # early then is harmless), so the memo holds until the next whole second of age.
    until = now + min(whole + 1 - age, ttl)
    return [whole, head + body, head, member, None, None, None, until, None, 0, None]


def render_not_modified(entry: Entry, memo: list[object], via: bytes) -> bytes:
    """The 304 of serve.answer for `entry` (RFC 9110 §15.4.5 fields), memoised."""
    data = memo[NOT_MODIFIED]
    if data is None:
        fields = b"".join(k + b": " + v + b"\r\n" for k, v in not_modified_fields(entry))
        data = memo[NOT_MODIFIED] = b"".join(
            (status_line(304), fields, _tail(via, memo[AGE], memo[MEMBER]))  # type: ignore[arg-type]
        )
    return data  # type: ignore[return-value]


def render_range(
    fields: bytes,
    body: bytes,
    span: tuple[int, int] | bool,
    memo: list[object],
    via: bytes,
) -> bytes:
    """The 206 for bytes [start, end) of `body`, or the 416 when `span` is False, as
    serve._range_answer gives them (RFC 9110 §14.4, §15.3.7, §15.5.17)."""
    tail = _tail(via, memo[AGE], memo[MEMBER])  # type: ignore[arg-type]
    length = len(body)
    if span is False:
        data = memo[UNSATISFIABLE]
        if data is None:
            framing = b"Content-Range: bytes */%d\r\nContent-Length: 0\r\n" % length
            data = memo[UNSATISFIABLE] = status_line(416) + fields + framing + tail
        return data  # type: ignore[return-value]
    start, end = span  # type: ignore[misc]
    parts = memo[PARTIAL]
    if parts is None:
        parts = memo[PARTIAL] = (status_line(206) + fields, tail)
    prefix: bytes = parts[0]  # type: ignore[index]
    framing = b"Content-Range: bytes %d-%d/%d\r\nContent-Length: %d\r\n" % (
        start,
        end - 1,
        length,
        end - start,
    )
    return b"".join((prefix, framing, tail, body[start:end]))


def write_head(
    out: ResponseWriter, status: int, headers: Any, via: bytes, *, has_length: bool
) -> None:
    """Send a head made of stored fields (a response from the cache)."""
    block = b"".join(name + b": " + value + b"\r\n" for name, value in headers)
    out.start_forwarded(status, block + b"Via: 1.1 " + via + b"\r\n", has_length, True)


def write_stored(
    out: ResponseWriter,
    entry: Entry,
    data: bytes | None,
    now: float,
    member: bytes,
    via: bytes,
) -> tuple[int, int] | None:
    """Write the answer to the writer's request from `entry`; `data` is the stored body
    when it is in memory. Returns the body range still to send when `data` is None."""
    req = out.request
    req.cache_status = member.decode("latin-1")  # for the access log
    reply = answer(req.method, req.headers, entry, now, status_member=member)
    write_head(out, reply.status, reply.headers, via, has_length=reply.status not in _NO_LENGTH)
    if reply.body is None:
        return None
    start, end = reply.body
    if data is None:
        return reply.body
    out.write(data if start == 0 and end == len(data) else data[start:end])
    return None


async def write_range(out: ResponseWriter, body: Body, start: int, end: int) -> None:
    """Stream bytes [start, end) of a stored body, with backpressure; releases the body."""
    pos = 0
    try:
        async for chunk in body.chunks():
            lo, hi = max(start - pos, 0), min(end - pos, len(chunk))
            if lo < hi:
                out.write(chunk[lo:hi])
                await out.drain()
            pos += len(chunk)
            if pos >= end:
                break
    finally:
        body.close()
