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
from .serve import answer

if TYPE_CHECKING:
    from frontdesk.server.exchange import ResponseWriter

    from .entry import Entry
    from .options import CacheOptions
    from .store import Body

_NO_LENGTH = (204, 304)  # RFC 9110 §8.6: no Content-Length on 204; a 304 describes the 200


def render_hit(
    entry: Entry,
    fields: bytes,
    body: bytes,
    age: float,
    ttl: float,
    options: CacheOptions,
    via: bytes,
) -> list[object]:
    """[whole seconds of age, the GET answer, the HEAD answer] for a fresh entry whose
    served fields are `fields` (serialised when stored) and body `body`."""
    member = Decision(Action.HIT, entry, ttl=ttl).status_member(options)
    length = b"" if entry.status in _NO_LENGTH else b"Content-Length: %d\r\n" % len(body)
    head = b"".join(
        (
            status_line(entry.status),
            fields,
            length,
            b"Via: 1.1 ",
            via,
            b"\r\nAge: %d\r\nCache-Status: " % int(age),
            member,
            b"\r\n\r\n",
        )
    )
    return [int(age), head + body, head]


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
