"""Request-target and Host parsing (RFC 9112 §3.2, §3.3; RFC 3986 §5.2.4).

Everything here is pure: bytes in, values out, None for "answer 400".

Routing, access control and static files all decide on the *normalised* path, never
on the raw target: a check made on `/downloads/../private/x` while the file system
sees `/private/x` is the classic bypass. So the path is percent-decoded once, checked
for NUL and invalid UTF-8 (overlong encodings such as %C0%AE are invalid UTF-8),
slashes are merged (as nginx's merge_slashes) and dot-segments removed; a path that
climbs above the root is refused rather than clamped, as nginx does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

# RFC 3986 §3.2.2: host = IP-literal / IPv4address / reg-name; reg-name allows
# unreserved / pct-encoded / sub-delims. We accept the usual DNS alphabet plus "_"
# and IP literals in brackets; anything else in Host is a 400 (RFC 9112 §3.2).
_REG_NAME = re.compile(r"[a-z0-9._~!$&'()*+,;=-]*\Z")
_IP_LITERAL = re.compile(r"\[[0-9a-f:.]+(?:%25[a-z0-9._~-]+)?\]\Z")
_PORT = re.compile(r"[0-9]*\Z")


@dataclass(frozen=True, slots=True)
class Target:
    """A parsed request-target."""

    path: str  # normalised, decoded absolute path, always starts with "/"
    query: str  # raw query without "?", "" when absent
    host: str | None  # from absolute-form only (it then overrides Host, RFC 9112 §3.2.2)


def parse_host(value: bytes) -> str | None:
    """Lower-cased host (without port) of a Host header or authority; None when invalid.

    RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status code to any
    HTTP/1.1 request message that lacks a Host header field and to any request message
    that contains more than one Host header field line or a Host header field with an
    invalid field value." An empty Host is valid (RFC 9110 §7.2, for URIs with no
    authority) and yields "".
    """
    try:
        text = value.decode("ascii").strip().lower()
    except UnicodeDecodeError:
        return None
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            return None
        host, rest = text[: end + 1], text[end + 1 :]
        if not _IP_LITERAL.match(host):
            return None
    else:
        host, _, port = text.partition(":")
        rest = ":" + port if _ else ""
        if not _REG_NAME.match(host):
            return None
    if rest:
        if not rest.startswith(":") or not _PORT.match(rest[1:]):
            return None
    # A trailing dot names the same host (example.com. == example.com).
    return host[:-1] if host.endswith(".") else host


def normalize_path(raw: str) -> str | None:
    """Decoded, normalised absolute path; None when it cannot be served safely.

    `raw` is the path part of an origin-form target (before "?"), as sent.
    """
    if not raw.startswith("/"):
        return None
    # Fast path: nothing to decode, merge or resolve (the overwhelmingly common case).
    if "%" not in raw and "/." not in raw and "//" not in raw:
        return raw
    try:
        decoded = unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "\x00" in decoded:
        return None
    return remove_dot_segments(decoded)


def remove_dot_segments(path: str) -> str | None:
    """RFC 3986 §5.2.4 on an absolute path, merging empty segments; None above root."""
    out: list[str] = []
    segments = path.split("/")
    last = len(segments) - 1
    for i, seg in enumerate(segments[1:], start=1):
        if seg == "..":
            if not out:
                return None
            out.pop()
            if i == last:
                out.append("")
        elif seg == ".":
            if i == last:
                out.append("")
        elif seg or i == last:
            out.append(seg)
    # An empty last segment keeps the trailing slash ("/a/" stays "/a/"): it is
    # meaningful to directories.
    return "/" + "/".join(out)


def parse_target(raw: bytes, method: bytes) -> Target | None:
    """Split a request-target (RFC 9112 §3.2) into normalised path, query and host.

    origin-form (`/p?q`) and absolute-form (`http://h/p?q`) are served; asterisk-form
    (`*`) only for OPTIONS, where it is reported as the path "*". authority-form is for
    CONNECT, which frontdesk does not tunnel: the caller answers 405/400 on it.
    """
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return None
    host: str | None = None
    if not text.startswith("/"):
        if text == "*" and method == b"OPTIONS":
            return Target("*", "", None)
        lower = text[:8].lower()
        if lower.startswith("http://"):
            rest = text[7:]
        elif lower.startswith("https://"):
            rest = text[8:]
        else:
            return None
        slash = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
        authority, text = rest[:slash], rest[slash:]
        if "@" in authority:  # userinfo is deprecated and a phishing vector (RFC 9110 §4.2.4)
            return None
        host = parse_host(authority.encode("ascii"))
        if host is None or host == "":
            return None
        if not text.startswith("/"):
            text = "/" + text
    path, _, query = text.partition("?")
    if "#" in path or "#" in query:  # a fragment is never sent in a request-target
        return None
    norm = normalize_path(path)
    if norm is None:
        return None
    return Target(norm, query, host)
