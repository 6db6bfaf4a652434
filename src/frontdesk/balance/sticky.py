"""Sticky sessions: a cookie whose value names a member without revealing its address.

The value is a keyed BLAKE2b MAC of the member id under a secret of the pool's (from the
config, or made at start-up and shared by the master), so a client learns nothing about
the backend address, cannot forge a value that names a member it was not sent to except by
replaying one it saw, and every worker maps a value to the same member.
"""

from __future__ import annotations

import hashlib

from .members import Member
from .policies import View

TOKEN_BYTES = 12  # 96 bits: unguessable, and a short cookie


def cookie_token(secret: bytes, member_id: str) -> str:
    """The cookie value that names ``member_id`` (hex)."""
    return hashlib.blake2b(
        member_id.encode(), key=secret[:64], digest_size=TOKEN_BYTES, person=b"fd-sticky"
    ).hexdigest()


class StickyTable:
    """Cookie values of the eligible members, both ways."""

    __slots__ = ("_secret", "_by_token", "_token_of")

    def __init__(self, secret: bytes) -> None:
        if not secret:
            raise ValueError("a sticky-session secret must not be empty")
        self._secret = secret
        self._by_token: dict[str, Member] = {}
        self._token_of: dict[Member, str] = {}

    def rebuild(self, view: View) -> None:
        # Only eligible members get an entry: a cookie naming a member that is draining,
        # down or gone finds nothing, and the request falls back to the pool's policy.
        token_of = {m: self._token_of.get(m) or cookie_token(self._secret, m.id) for m, _ in view}
        self._token_of = token_of
        self._by_token = {t: m for m, t in token_of.items()}

    def member(self, token: str) -> Member | None:
        return self._by_token.get(token)

    def token(self, member: Member) -> str:
        return self._token_of.get(member) or cookie_token(self._secret, member.id)


def set_cookie(name: str, token: str, *, secure: bool = False, max_age: int | None = None) -> bytes:
    """A Set-Cookie value for the sticky cookie (RFC 6265 §4.1).

    HttpOnly (scripts have no use for it) and SameSite=Lax; a session cookie unless
    ``max_age`` is given; Secure when the site is served over TLS.
    """
    parts = [f"{name}={token}", "Path=/", "HttpOnly", "SameSite=Lax"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if secure:
        parts.append("Secure")
    return "; ".join(parts).encode("latin-1")
