"""The real client address: the peer's, unless the peer is a trusted proxy.

X-Forwarded-For and Forwarded (RFC 7239) are lists each proxy appends to; only the
entries added by proxies we trust can be believed, so the list is read from the right
and the first address that is not a trusted proxy is the client (what nginx's
`real_ip_recursive on` does). A header from an untrusted peer is ignored entirely:
anyone can send `X-Forwarded-For: 10.0.0.1`.

Pure: addresses in, address out.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

__all__ = ["Networks", "client_address", "ip", "networks"]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Networks = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]


def networks(values: tuple[str, ...]) -> Networks:
    return tuple(ipaddress.ip_network(v, strict=False) for v in values)


@lru_cache(maxsize=4096)
def ip(text: str) -> Address | None:
    """An address as the peer name or a forwarded entry spells it, or None."""
    text = text.strip()
    if text.startswith("["):  # Forwarded: for="[2001:db8::1]:4711"
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:  # IPv4 with a port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # ::ffff:10.0.0.1 on a dual-stack socket is 10.0.0.1
    return address


def _trusted(address: Address, trusted: Networks) -> bool:
    return any(address.version == n.version and address in n for n in trusted)


def _forwarded_for(value: bytes) -> list[str]:
    """The for= parameters of a Forwarded field value, in order (RFC 7239 §4)."""
    found = []
    for element in value.decode("latin-1").split(","):
        for pair in element.split(";"):
            name, _, param = pair.strip().partition("=")
            if name.lower() == "for":
                found.append(param.strip().strip('"'))
    return found


def client_address(peer: str, headers: list[tuple[bytes, bytes]], trusted: Networks) -> str:
    """The address access rules judge: the peer, or what trusted proxies say it was."""
    address = ip(peer)
    if address is None or not trusted or not _trusted(address, trusted):
        return str(address) if address is not None else peer
    xff: list[str] = []
    fwd: list[str] = []
    for name, value in headers:
        lname = name.lower()
        if lname == b"x-forwarded-for":
            xff += value.decode("latin-1").split(",")
        elif lname == b"forwarded":
            fwd += _forwarded_for(value)
    chain = xff or fwd
    for entry in reversed(chain):
        hop = ip(entry)
        if hop is None:
            break  # garbage (or "unknown"): trust stops here
        address = hop
        if not _trusted(hop, trusted):
            break
    return str(address)
