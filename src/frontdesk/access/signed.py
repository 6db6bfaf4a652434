"""Signed, expiring URLs (what nginx's secure_link does, with a real MAC).

A URL carries `expires` (Unix time, seconds) and `signature`, the unpadded base64url
HMAC-SHA256, under a secret key, of

    expires "\\n" path [ "\\n" client-address ]

where path is the percent-decoded path the server routes on. Several keys may be
accepted at once (rotation): URLs are signed with the first. The comparison is
constant-time (hmac.compare_digest), and the MAC is checked before the expiry, so a
client who edits `expires` gets 403 (tampered), never 410.

Pure: `now` is passed in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from enum import Enum
from urllib.parse import quote, unquote, urlsplit

__all__ = ["Outcome", "sign_url", "signature", "verify"]


class Outcome(Enum):
    VALID = "valid"
    MISSING = "missing"  # no or malformed expires/signature: 403
    TAMPERED = "tampered"  # no key makes this signature: 403
    EXPIRED = "expired"  # 410 Gone


def signature(key: str | bytes, path: str, expires: int, client_address: str | None) -> str:
    message = f"{expires}\n{path}"
    if client_address is not None:
        message += f"\n{client_address}"
    raw_key = key.encode() if isinstance(key, str) else key
    mac = hmac.new(raw_key, message.encode("utf-8", "surrogateescape"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def _params(query: str) -> tuple[str | None, str | None]:
    expires = sig = None
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        if name == "expires":
            expires = value
        elif name == "signature":
            sig = value
    return expires, sig


def verify(
    keys: tuple[str, ...], path: str, query: str, now: float, client_address: str | None
) -> Outcome:
    expires, sig = _params(query)
    if expires is None or sig is None or not expires.isdigit() or len(expires) > 12:
        return Outcome.MISSING
    stamp = int(expires)
    given = sig.encode("ascii", "replace")
    valid = False
    for key in keys:  # every key is tried, so timing does not tell which one matched
        expected = signature(key, path, stamp, client_address).encode("ascii")
        valid |= hmac.compare_digest(expected, given)
    if not valid:
        return Outcome.TAMPERED
    return Outcome.VALID if now < stamp else Outcome.EXPIRED


def sign_url(
    url: str,
    key: str | bytes,
    expires_in: float = 3600,
    *,
    client_address: str | None = None,
    now: float | None = None,
) -> str:
    """`url` with `expires` and `signature` appended: valid for `expires_in` seconds,
    and (with `client_address`) only for that client. For apps to call:

        from frontdesk import sign_url
        link = sign_url("/downloads/report.pdf", key, expires_in=600)
    """
    expires = int((time.time() if now is None else now) + expires_in)
    parts = urlsplit(url)
    path = unquote(parts.path or "/")
    sig = signature(key, path, expires, client_address)
    query = f"expires={expires}&signature={quote(sig)}"
    joined = f"{parts.query}&{query}" if parts.query else query
    prefix = url.split("?", 1)[0].split("#", 1)[0]
    return f"{prefix}?{joined}" + (f"#{parts.fragment}" if parts.fragment else "")
