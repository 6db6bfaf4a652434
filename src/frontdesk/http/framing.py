"""Request framing rules that need no connection state (RFC 9112 §6)."""

from __future__ import annotations

from frontdesk.errors import ProtocolError


def check_transfer_coding(te: bytes) -> None:
    """Refuse a Transfer-Encoding value frontdesk cannot frame; return if it is chunked.

    `te` is every Transfer-Encoding field value of the request, comma-joined.
    """
    codings = [c.strip().split(b";", 1)[0].strip().lower() for c in te.split(b",")]
    codings = [c for c in codings if c]
    if not codings or codings[-1] != b"chunked" or codings.count(b"chunked") > 1:
        # RFC 9112 §6.3: "If a Transfer-Encoding header field is present in a
        # request and the chunked transfer coding is not the final encoding, ...
        # the server MUST respond with the 400 (Bad Request) status code".
        raise ProtocolError(400, "invalid Transfer-Encoding")
    if len(codings) > 1:
        # RFC 9112 §6.1: a coding the server does not understand (we decode only
        # chunked) SHOULD get 501.
        raise ProtocolError(501, "transfer coding not implemented")
