"""Header rules for forwarding a message through frontdesk (pure: bytes in, bytes out).

Request direction: hop-by-hop fields removed, X-Forwarded-For/-Proto/-Host and the
RFC 7239 Forwarded field set (appended to only when the peer is a trusted proxy),
Via added, X-Request-ID passed on or set. Response direction: hop-by-hop fields
removed, Via added, Date added when the backend sent none. The head is serialised
in one join.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from frontdesk.http.fields import COMMON_REQUEST_FIELDS

Headers = Sequence[tuple[bytes, bytes]]

# RFC 9110 §7.6.1: "Intermediaries MUST parse a received Connection header field
# before a message is forwarded and, for each connection-option in this field, remove
# any header or trailer field(s) from the message with the same name as the
# connection-option, and then remove the Connection header field itself (or replace
# it with the intermediary's own control options for the forwarded message)."
# "... a proxy or gateway MUST remove any of the following: Connection,
# Proxy-Connection, Keep-Alive, TE, Transfer-Encoding, Upgrade" (unless they are the
# proxy's own: frontdesk re-frames bodies itself and sets Upgrade for tunnels).
HOP_BY_HOP = frozenset(
    {b"connection", b"proxy-connection", b"keep-alive", b"te", b"transfer-encoding", b"upgrade"}
)
FORWARDING = frozenset(
    {b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"forwarded"}
)
_REQUEST_SPECIAL = HOP_BY_HOP | FORWARDING | {b"host", b"x-request-id", b"content-length"}
# Common fields, as clients spell them, that are none of those: forwarded after one set
# lookup, with no lower-cased copy made (a browser's request has a dozen).
_REQUEST_PASSED = frozenset(n for n in COMMON_REQUEST_FIELDS if n.lower() not in _REQUEST_SPECIAL)
_RESPONSE_SPECIAL = HOP_BY_HOP | {b"content-length", b"date"}
# Their lengths: most fields of a response (Server, Content-Type, Last-Modified, ...)
# are passed on after this one test, with no lower-cased copy made.
_RESPONSE_SPECIAL_LENGTHS = frozenset(len(name) for name in _RESPONSE_SPECIAL)
# RFC 9110 §6.5.1: fields that frame, route or authenticate a message do not belong
# in a trailer section; a recipient must not merge them into the header section.
_NOT_IN_TRAILERS = HOP_BY_HOP | {b"content-length", b"host", b"trailer", b"content-type"}

# RFC 9110 §5.6.2: tchar, for deciding whether a Forwarded value needs quoting.
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")


def connection_options(headers: Headers) -> frozenset[bytes]:
    """The connection-options named in Connection field(s), lower-cased (RFC 9110 §7.6.1)."""
    options: set[bytes] = set()
    for name, value in headers:
        if len(name) == 10 and name.lower() == b"connection":
            options.update(t.strip().lower() for t in value.split(b","))
    options.discard(b"")
    return frozenset(options)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _without(headers: Headers, options: frozenset[bytes]) -> list[tuple[bytes, bytes]]:
    """The fields not named by a connection-option (nor Connection itself)."""
    return [
        (n, v) for n, v in headers if (low := n.lower()) not in options and low != b"connection"
    ]


def is_trusted(peer: str, networks: Iterable[Network]) -> bool:
    """Whether the connection's peer address lies in one of the trusted networks."""
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:  # a unix socket peer, or "-": not an address we can trust
        return False
    return any(address in net for net in networks)


def _quote_if_needed(value: bytes) -> bytes:
    # RFC 7239 §4: value = token / quoted-string; an IPv6 node or a host with a port
    # has characters outside tchar, so it is quoted.
    if _TOKEN.match(value):
        return value
    return b'"' + value.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def forwarded_node(client: str) -> bytes:
    """RFC 7239 §6: node = nodename [ ":" node-port ]; IPv6 in brackets, quoted."""
    if ":" in client:
        return b'"[' + client.encode("ascii") + b']"'
    if not client or client == "-":
        return b"unknown"  # RFC 7239 §6.3: the address is not known (a unix socket)
    return client.encode("ascii")


@dataclass(frozen=True, slots=True)
class Hop:
    """What frontdesk knows about the hop a request arrived on."""

    client: str  # the peer's address as text ("-" when unknown)
    trusted: bool  # the peer is a trusted proxy: its forwarding fields are believed
    proto: bytes = b"http"


@dataclass(frozen=True, slots=True)
class RequestPolicy:
    """Per-route forwarding choices, fixed at config load."""

    via: bytes  # this hop's Via entry without the version, e.g. b"frontdesk"
    host: bytes | None  # Host sent upstream; None passes the client's


def request_head(
    method: bytes,
    target: bytes,
    version: str,
    headers: Headers,
    hop: Hop,
    policy: RequestPolicy,
    request_id: bytes,
    *,
    has_body: bool = False,
    upgrade: bool = False,
    fallback_host: bytes = b"localhost",
    memo: dict[tuple[str, bytes, bytes, bytes, str], bytes] | None = None,
) -> bytes:
    """The serialised head of the request sent to the backend (HTTP/1.1).

    `request_id` is sent as X-Request-ID unless a trusted client (`hop.trusted`) sent
    one of its own; an untrusted client's X-Request-ID is dropped. A body (`has_body`) with
    a Content-Length keeps it; one without (the client sent it chunked) is re-framed
    as chunked, the only coding frontdesk forwards (RFC 9112 §7). `upgrade`: the
    request asks for a protocol switch and keeps its Upgrade field with
    `Connection: upgrade`. `fallback_host` is the Host
    for an HTTP/1.0 client that sent none. `memo`, a dict the caller keeps (and
    bounds), remembers the forwarding lines of requests that carried none of their
    own: they depend only on the client, the hosts and the version.
    """
    parts = [method, b" ", target, b" HTTP/1.1\r\n"]
    client_host: bytes | None = None
    xff: bytes | None = None
    xfp: bytes | None = None
    xfh: bytes | None = None
    fwd: bytes | None = None
    upgrade_value: bytes | None = None
    has_id = False
    has_length = False
    options: frozenset[bytes] = frozenset()
    for name, value in headers:
        if name in _REQUEST_PASSED:
            parts += (name, b": ", value, b"\r\n")
            continue
        lname = name.lower()
        if lname in _REQUEST_SPECIAL:
            if lname == b"host":
                client_host = value
            elif lname == b"content-length":
                has_length = True
                parts += (name, b": ", value, b"\r\n")
            elif lname == b"x-request-id":
                # Kept only from a trusted proxy (which made it); anyone else's is
                # replaced by `request_id`, so the id in the logs is ours to trust.
                if hop.trusted:
                    has_id = True
                    parts += (name, b": ", value, b"\r\n")
            elif lname == b"connection":
                if value.lower() in HOP_BY_HOP:
                    continue  # `keep-alive`, as browsers send it: names no other field
                options = connection_options(headers) - HOP_BY_HOP
                if options:  # rare: fields named as connection options go too
                    return request_head(
                        method,
                        target,
                        version,
                        _without(headers, options),
                        hop,
                        policy,
                        request_id,
                        has_body=has_body,
                        upgrade=upgrade,
                        fallback_host=fallback_host,
                        memo=memo,
                    )
            elif lname == b"upgrade":
                upgrade_value = value
            elif hop.trusted and value:
                # Several lines of one list field combine with "," (RFC 9110 §5.3);
                # an empty line adds no member.
                if lname == b"x-forwarded-for":
                    xff = value if xff is None else xff + b", " + value
                elif lname == b"forwarded":
                    fwd = value if fwd is None else fwd + b", " + value
                elif lname == b"x-forwarded-proto":
                    xfp = xfp or value
                else:
                    xfh = xfh or value
            # else: hop-by-hop, or an untrusted forwarding field: dropped
            continue
        parts += (name, b": ", value, b"\r\n")
    host = policy.host or client_host or fallback_host
    seen_host = client_host if client_host is not None else host
    if memo is None or xff or xfp or xfh or fwd:
        block = _forwarding(hop, host, seen_host, version, policy.via, xff, xfp, xfh, fwd)
    else:
        key = (hop.client, hop.proto, host, seen_host, version)
        block = memo.get(key)  # type: ignore[assignment]
        if block is None:
            block = memo[key] = _forwarding(hop, host, seen_host, version, policy.via)
    parts.append(block)
    if not has_id:
        parts += (b"X-Request-ID: ", request_id, b"\r\n")
    if has_body and not has_length:
        parts.append(b"Transfer-Encoding: chunked\r\n")
    if upgrade and upgrade_value is not None:
        parts += (b"Connection: upgrade\r\nUpgrade: ", upgrade_value, b"\r\n")
    parts.append(b"\r\n")
    return b"".join(parts)


def _forwarding(
    hop: Hop,
    host: bytes,
    seen_host: bytes,
    version: str,
    via: bytes,
    xff: bytes | None = None,
    xfp: bytes | None = None,
    xfh: bytes | None = None,
    fwd: bytes | None = None,
) -> bytes:
    """Host, X-Forwarded-*, Forwarded and Via lines; x* are the trusted incoming values."""
    client = hop.client.encode("ascii") if hop.client != "-" else b"unknown"
    # RFC 7239 §4: forwarded-element = [ forwarded-pair ] *( ";" [ forwarded-pair ] )
    element = b"for=%b;host=%b;proto=%b" % (
        forwarded_node(hop.client),
        _quote_if_needed(seen_host),
        hop.proto,
    )
    return b"".join(
        (
            b"Host: ",
            host,
            b"\r\nX-Forwarded-For: ",
            client if xff is None else xff + b", " + client,
            b"\r\nX-Forwarded-Proto: ",
            xfp or hop.proto,
            b"\r\nX-Forwarded-Host: ",
            xfh or seen_host,
            b"\r\nForwarded: ",
            element if fwd is None else fwd + b", " + element,
            # RFC 9110 §7.6.3: "A proxy MUST send an appropriate Via header field ...
            # in each message that it forwards"; received-protocol is the version
            # the message was received in.
            b"\r\nVia: ",
            _RECEIVED.get(version, b"1.0 "),
            via,
            b"\r\n",
        )
    )


# Via's received-protocol (RFC 9110 §7.6.3) by the client's version: HTTP/2 is "2".
_RECEIVED = {"1.1": b"1.1 ", "1.0": b"1.0 ", "2.0": b"2 "}

ResponseHead = tuple[bytes, int | None, bool]
"""A backend's response head, ready for the client (status line and framing aside):
(header lines each ending CRLF, the backend's Content-Length if any, whether it sent
Date). A plain tuple: built once per response on the hot path."""


def response_head(
    headers: Headers, version: str, via: bytes, *, upgrade: bool = False
) -> ResponseHead:
    """The header block forwarded to the client.

    Content-Length is kept in the block (and returned) when the backend sent one;
    Transfer-Encoding never is (the client side frames the body itself). For a 101
    (`upgrade`), Upgrade is kept and `Connection: upgrade` set.
    """
    parts: list[bytes] = []
    length: int | None = None
    has_date = False
    for name, value in headers:
        if len(name) in _RESPONSE_SPECIAL_LENGTHS and (lname := name.lower()) in _RESPONSE_SPECIAL:
            if lname == b"content-length":
                length = int(value)  # llhttp has checked it: digits only, one value
            elif lname == b"date":
                has_date = True
            elif lname == b"connection":
                # `Connection: keep-alive` (nginx sends it on every response) names no
                # field to remove: only a line with other options needs the list parsed.
                if value.lower() in HOP_BY_HOP:
                    continue
                options = connection_options(headers) - HOP_BY_HOP
                if options:
                    return response_head(
                        _without(headers, options),
                        version,
                        via,
                        upgrade=upgrade,
                    )
                continue
            elif upgrade and lname == b"upgrade":
                parts += (b"Connection: upgrade\r\n",)
            else:
                continue  # hop-by-hop
        parts += (name, b": ", value, b"\r\n")
    parts += (b"Via: ", b"1.1 " if version == "1.1" else b"1.0 ", via, b"\r\n")
    return b"".join(parts), length, has_date


def trailer_block(trailers: Headers) -> bytes:
    """Trailer lines to forward after the last chunk (RFC 9112 §7.1.2), filtered."""
    return b"".join(
        b"%b: %b\r\n" % (name, value)
        for name, value in trailers
        if name.lower() not in _NOT_IN_TRAILERS
    )


__all__ = [
    "FORWARDING",
    "HOP_BY_HOP",
    "Hop",
    "RequestPolicy",
    "ResponseHead",
    "connection_options",
    "forwarded_node",
    "is_trusted",
    "request_head",
    "response_head",
    "trailer_block",
]
