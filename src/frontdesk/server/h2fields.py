"""HTTP/2 field sections to and from the heads the HTTP/1.1 core and its actions use.

Pure: fields in, a head or a reason out. HPACK decoding (the `h2` library) hands over a
request's fields as bytes pairs; here they become what `Request` holds, checked as
RFC 9113 §8 requires of a server that forwards over HTTP/1.1:

- §8.2.1: field names are lower case tokens, values carry no NUL, CR or LF and no
  leading or trailing whitespace;
- §8.2.2: connection-specific fields (Connection, Keep-Alive, Proxy-Connection,
  Transfer-Encoding, Upgrade; TE other than "trailers") make a request malformed;
- §8.3.1: the pseudo-header fields come first, once each, :method :scheme :path
  present (CONNECT is refused), :authority becomes Host, and a Host that names
  another authority is malformed;
- §8.2.3: cookie crumbs are joined with "; " into one Cookie field.

A malformed request is a stream error of type PROTOCOL_ERROR (§8.1.1): the caller
resets the stream. Responses go the other way: HTTP/1.1 header lines (what actions
and the proxy build) become lower-case pairs, the connection-specific ones dropped
(§8.2.2: "An endpoint MUST NOT generate an HTTP/2 message containing
connection-specific header fields").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from hpack import Decoder, Encoder
from hpack.hpack import encode_integer
from hpack.table import HeaderTable

__all__ = [
    "H2Request",
    "CONNECTION_SPECIFIC",
    "LiteralEncoder",
    "MemoDecoder",
    "literal_block",
    "request_head",
    "response_fields",
    "field_lines",
]

CONNECTION_SPECIFIC = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade"}
)
# RFC 9110 §5.6.2 tchar, lower case only (§8.2.1: upper case makes a request malformed).
_NAME = re.compile(rb"[!#$%&'*+\-.^_`|~0-9a-z]+\Z")
# RFC 9113 §8.2.1: no NUL, CR or LF anywhere; no SP/HTAB first or last.
_BAD_VALUE = re.compile(rb"[\x00\r\n]|\A[ \t]|[ \t]\Z")
# The request-target of an http(s) request: origin-form or "*" (visible ASCII).
_PATH = re.compile(rb"[\x21-\x7e]+\Z")
_PSEUDO = frozenset({b":method", b":scheme", b":path", b":authority"})
_OVERHEAD = 32  # RFC 9113 §6.5.2: each field counts its name, its value and 32 octets


@dataclass(slots=True)
class H2Request:
    """A request head from an HTTP/2 HEADERS block, in the core's terms."""

    method: bytes
    target: bytes  # :path as sent
    scheme: bytes
    authority: bytes | None  # Host for the core, when the request had one
    headers: list[tuple[bytes, bytes]]  # regular fields, Host added, cookies joined
    size: int  # the §6.5.2 size of the whole section (431 over the limit)
    has_length: bool  # a content-length field was sent


def request_head(fields: Iterable[tuple[bytes, bytes]]) -> H2Request | str:
    """The request in `fields`, or why it is malformed (a stream error)."""
    method = scheme = path = authority = None
    headers: list[tuple[bytes, bytes]] = []
    cookies: list[bytes] = []
    host: bytes | None = None
    size = 0
    regular = False
    has_length = False
    for name, value in fields:
        size += len(name) + len(value) + _OVERHEAD
        if name[:1] == b":":
            # §8.3: pseudo-header fields come before every regular field, once each.
            if regular:
                return "pseudo-header field after a regular field"
            if name not in _PSEUDO:
                return "unknown pseudo-header field"
            if name == b":method":
                if method is not None:
                    return "repeated :method"
                method = value
            elif name == b":path":
                if path is not None:
                    return "repeated :path"
                path = value
            elif name == b":scheme":
                if scheme is not None:
                    return "repeated :scheme"
                scheme = value
            else:
                if authority is not None:
                    return "repeated :authority"
                authority = value
            continue
        regular = True
        if not _NAME.match(name):
            return "invalid field name"
        if _BAD_VALUE.search(value):
            return "invalid field value"
        if name in CONNECTION_SPECIFIC:
            return "connection-specific field"
        if name == b"te":
            if value != b"trailers":  # §8.2.2: the one TE value allowed
                return "TE other than trailers"
        elif name == b"cookie":
            cookies.append(value)  # §8.2.3: joined below
            continue
        elif name == b"host":
            if host is not None:
                return "repeated host"
            host = value
            continue
        elif name == b"content-length":
            has_length = True
        headers.append((name, value))
    if method is None or scheme is None or path is None:
        # §8.3.1: all HTTP/2 requests MUST include exactly one valid value for the
        # :method, :scheme, and :path pseudo-header fields, unless it is a CONNECT.
        return "missing :method, :scheme or :path"
    if method == b"CONNECT":
        return "CONNECT"
    if not path or not _PATH.match(path) or (path[:1] != b"/" and path != b"*"):
        return "invalid :path"
    if path == b"*" and method != b"OPTIONS":
        return "asterisk :path for a method other than OPTIONS"
    if authority is not None:
        # §8.3.1: a Host that differs from :authority is malformed; :authority is
        # what an HTTP/1.1 request carries as Host.
        if host is not None and host.lower() != authority.lower():
            return "host and :authority differ"
        host = authority
    if host is not None:
        headers.append((b"host", host))
    if cookies:
        headers.append((b"cookie", cookies[0] if len(cookies) == 1 else b"; ".join(cookies)))
    return H2Request(method, path, scheme, host, headers, size, has_length)


_LOWER: dict[bytes, bytes] = {}  # response field names as actions spell them → lower case


def _lower(name: bytes) -> bytes:
    low = _LOWER.get(name)
    if low is None:
        low = name.lower()
        if len(_LOWER) < 1024:  # names repeat; a backend inventing them is bounded
            _LOWER[name] = low
    return low


_STATUS: dict[int, bytes] = {s: b"%d" % s for s in range(100, 600)}


def response_fields(
    status: int, headers: Iterable[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    """The HEADERS of a response: :status first, names in lower case, connection-
    specific fields left out."""
    out = [(b":status", _STATUS.get(status) or b"%d" % status)]
    for name, value in headers:
        low = _lower(name)
        if low not in CONNECTION_SPECIFIC:
            out.append((low, value))
    return out


def field_lines(block: bytes) -> list[tuple[bytes, bytes]]:
    """The fields of an HTTP/1.1 header block ("Name: value" lines, each ending CRLF),
    as the proxy, the cache and fixed answers build them."""
    out = []
    for line in block.split(b"\r\n"):
        if line:
            name, _, value = line.partition(b":")
            out.append((name, value.strip(b" \t")))
    return out


# RFC 7541 Appendix A: the static table, by (name, value) and by name (first index).
_STATIC_FIELD: dict[tuple[bytes, bytes], int] = {}
_STATIC_NAME: dict[bytes, int] = {}
for _i, (_n, _v) in enumerate(HeaderTable.STATIC_TABLE, 1):
    _STATIC_FIELD.setdefault((_n, _v), _i)
    _STATIC_NAME.setdefault(_n, _i)
_BLOCKS: dict[tuple[tuple[bytes, bytes], ...], bytes] = {}
_MAX_BLOCKS = 512  # response field sections remembered per worker (cleared when full)


def _field(name: bytes, value: bytes) -> bytes:
    index = _STATIC_FIELD.get((name, value))
    if index is not None:
        return bytes((0x80 | index,))  # §6.1 indexed field (static entries are < 64)
    # §6.2.2 literal field without indexing: a static name index (4-bit prefix) or a
    # literal name, then the value as a raw string (no Huffman: no work per byte).
    index = _STATIC_NAME.get(name)
    if index is None:
        head = b"\x00" + bytes(encode_integer(len(name), 7)) + name
    else:
        head = bytes(encode_integer(index, 4))
    return head + bytes(encode_integer(len(value), 7)) + value


def literal_block(fields: Iterable[tuple[bytes, bytes]]) -> bytes:
    """The HPACK block of a response field section, without the dynamic table: it
    depends on nothing but the fields, so it is encoded once per worker."""
    key = tuple(fields)
    block = _BLOCKS.get(key)
    if block is None:
        block = b"".join([_field(n, v) for n, v in key])
        if len(_BLOCKS) >= _MAX_BLOCKS:
            _BLOCKS.clear()
        _BLOCKS[key] = block
    return block


class LiteralEncoder(Encoder):
    """The HPACK encoder of a connection's responses: fields are never added to the
    dynamic table, so the block of a field section depends on nothing but the fields
    and is encoded once per worker (a fixed answer's, a static file's) instead of once
    per response. The decoder's table stays empty of our entries, which RFC 7541 §2.3
    allows; a table size update the peer asked for (§4.2) goes through hpack's own
    encoder, which emits it."""

    def encode(self, headers: Any, huffman: bool = True) -> bytes:
        if self.table_size_changes:
            return super().encode(headers, huffman)
        return literal_block(headers)


# A header block made only of one-byte indexed fields (RFC 7541 §6.1, indices 1-126):
# decoding it reads the tables and changes nothing.
_INDEXED_ONLY = re.compile(rb"[\x81-\xfe]*\Z")


class MemoDecoder(Decoder):
    """The HPACK decoder of a connection's requests, remembering the blocks that only
    reference table entries: a client repeating a request (h2load, an API client, a
    browser's subresources with the same fields) sends the same few bytes, and while
    the dynamic table has not changed they decode to the same fields. Any other block
    may change the table: everything remembered is forgotten.

    `head` also remembers what `request_head` made of such a block (the connection's
    fast receive path: a repeated request is then one dictionary lookup)."""

    def __init__(self) -> None:
        super().__init__()
        self._memo: dict[bytes, list[tuple[bytes, bytes]]] = {}
        self._heads: dict[bytes, H2Request | str] = {}

    def decode(self, data: Any, raw: bool = False) -> Any:
        memo = self._memo
        known = memo.get(data)
        if known is not None:
            return list(known)
        fields = super().decode(data, raw)
        if _INDEXED_ONLY.match(data):
            if len(memo) >= 64:
                memo.clear()
                self._heads.clear()
            memo[bytes(data)] = list(fields)
        elif memo:
            memo.clear()
            self._heads.clear()
        return fields

    def head(self, data: bytes) -> H2Request | str:
        """The request in header block `data` (decoded as `decode` does, raising what
        it raises), or why it is malformed. The result is shared: not to be changed."""
        head = self._heads.get(data)
        if head is None:
            head = request_head(self.decode(data, raw=True))
            if data in self._memo:
                self._heads[data] = head
        return head
