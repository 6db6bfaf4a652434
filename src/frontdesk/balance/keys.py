"""Where a hash pool's request key comes from, and reading a cookie for sticky sessions.

A pool says ``hash = "client"`` (the client address), ``"path"``, ``"header:NAME"`` or
``"cookie:NAME"``; :meth:`KeySource.parse` turns that into a :class:`KeySource` once, at
config load, and the proxy calls :meth:`KeySource.extract` per request. A request without
the header or cookie has no key (the policy then picks by weight alone).
"""

from __future__ import annotations

from collections.abc import Sequence

Headers = Sequence[tuple[bytes, bytes]]

KINDS = ("client", "path", "header", "cookie")


class KeySource:
    """One of ``KINDS``, with a header or cookie name where the kind needs one."""

    __slots__ = ("kind", "name")

    def __init__(self, kind: str, name: bytes = b"") -> None:
        self.kind = kind
        self.name = name

    @classmethod
    def parse(cls, spec: str) -> KeySource:
        kind, _, name = spec.partition(":")
        if kind not in KINDS:
            raise ValueError(f"hash: {spec!r} is not one of client, path, header:NAME, cookie:NAME")
        if (kind in ("header", "cookie")) != bool(name):
            raise ValueError(f"hash: {kind} {'needs' if not name else 'takes no'} a :NAME")
        # Header names compare case-insensitively (RFC 9110 §5.1), cookie names exactly.
        raw = name.encode("latin-1")
        return cls(kind, raw.lower() if kind == "header" else raw)

    def extract(self, client: str, path: str, headers: Headers) -> bytes | None:
        kind = self.kind
        if kind == "client":
            return client.encode()
        if kind == "path":
            return path.encode()
        if kind == "header":
            values = [v for n, v in headers if n.lower() == self.name]
            return b",".join(values) if values else None  # RFC 9110 §5.3: join in order
        value = read_cookie(headers, self.name)
        return value.encode("latin-1") if value is not None else None


def read_cookie(headers: Headers, name: bytes) -> str | None:
    """The value of cookie ``name`` from the request's Cookie header(s), or None.

    RFC 6265 §5.4: ``cookie-pair *( ";" SP cookie-pair )``; the first pair with the name
    wins, as browsers send the most specific cookie first.
    """
    for header, value in headers:
        if header.lower() != b"cookie":
            continue
        for pair in value.split(b";"):
            key, eq, cookie = pair.strip().partition(b"=")
            if eq and key == name:
                return cookie.strip(b'"').decode("latin-1")
    return None
