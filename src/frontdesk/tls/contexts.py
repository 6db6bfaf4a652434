"""The TLS side of a worker's listeners: one SSLContext per certificate, chosen by SNI.

`CertificateMap` is the pure part: host name → certificate, exact names first, then
a wildcard certificate for the name's parent ("*.example.com" covers one label,
RFC 6125 §6.4.3), then the default. `ServerTls` builds the contexts and owns the one
every TLS listener hands to uvloop: its SNI callback switches a handshake to the
context of the certificate for the requested name. Replacing the certificates
(ACME renewal) builds new contexts and swaps the map; handshakes under way finish on
the old ones, and the listener's context never changes, so nothing is restarted.

ALPN (RFC 7301): every context offers "h2" then "http/1.1" (`ALPN_H2`), or "http/1.1"
alone when `[http2] enabled = false`; the connection picks its protocol class in
connection_made from `transport.get_extra_info("ssl_object").selected_alpn_protocol()`
(listeners.py). A client that offers no ALPN speaks HTTP/1.1. The bytes of every
connection go through tls/transport.py's TlsConnection, not uvloop's SSL transport.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from dataclasses import dataclass, field

from frontdesk.config.tls import Tls, cert_names
from frontdesk.tls import tickets

__all__ = ["CertificateMap", "ServerTls", "ALPN", "ALPN_H2", "new_context"]

ALPN = ["http/1.1"]
ALPN_H2 = ["h2", "http/1.1"]  # RFC 9113 §3.2: "h2" is HTTP/2 over TLS

_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


@dataclass
class CertificateMap:
    """Which of several values (contexts, or file pairs in tests) serves a host name."""

    exact: dict[str, object] = field(default_factory=dict)
    wildcard: dict[str, object] = field(default_factory=dict)  # "example.com" for *.example.com
    default: object | None = None

    def add(self, names: Iterable[str], value: object) -> None:
        """Register `value` for `names`; the first value registered for a name keeps it."""
        for name in names:
            if name.startswith("*."):
                self.wildcard.setdefault(name[2:], value)
            else:
                self.exact.setdefault(name, value)
        if self.default is None:
            self.default = value

    def pick(self, server_name: str | None) -> object | None:
        if not server_name:
            return self.default
        name = server_name.lower().rstrip(".")
        found = self.exact.get(name)
        if found is not None:
            return found
        _, dot, parent = name.partition(".")
        if dot:
            found = self.wildcard.get(parent)
            if found is not None:
                return found
        return self.default


def new_context(tls: Tls, alpn: list[str] = ALPN) -> ssl.SSLContext:
    """A server context with `tls`'s versions and ciphers and no certificate yet."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    # TLS 1.0 and 1.1 are never offered, whatever min_version says (RFC 8996).
    context.minimum_version = _VERSIONS[tls.min_version]
    context.maximum_version = ssl.TLSVersion.TLSv1_3
    context.set_ciphers(tls.ciphers)
    context.set_alpn_protocols(alpn)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    if not tls.session_tickets:
        context.options |= ssl.OP_NO_TICKET
        context.num_tickets = 0
    return context


class ServerTls:
    """A worker's certificates and the listener context that serves them."""

    def __init__(
        self, tls: Tls, obtained: Iterable[tuple[str, str]] = (), http2: bool = False
    ) -> None:
        self.tls = tls
        self.alpn = ALPN_H2 if http2 else ALPN
        self.ticket_key: bytes | None = None
        self.listener = new_context(tls, self.alpn)
        self.map = CertificateMap()
        self.load(obtained)

    def pairs(self, obtained: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """(cert, key) files in order of preference: [tls] cert, certificates, obtained."""
        tls = self.tls
        out = [(c.cert, c.key) for c in tls.certificates]
        if tls.cert is not None and tls.key is not None:
            out.insert(0, (tls.cert, tls.key))
        return out + list(obtained)

    def load(self, obtained: Iterable[tuple[str, str]]) -> None:
        """(Re-)read every certificate file; new handshakes use them from now on."""
        fresh = CertificateMap()
        first = True
        for cert, key in self.pairs(obtained):
            with open(cert, "rb") as f:
                names = cert_names(f.read())
            if first:
                # The listener's own certificate: handshakes that need no switch.
                self.listener.load_cert_chain(cert, key)
                fresh.add(names, self.listener)
                first = False
                continue
            context = new_context(self.tls, self.alpn)
            context.load_cert_chain(cert, key)
            if self.ticket_key is not None:
                tickets.install(context, self.ticket_key)
            fresh.add(names, context)
        self.map = fresh
        if len(fresh.exact) + len(fresh.wildcard) > 0 and not self._single(fresh):
            self.listener.sni_callback = self._on_sni
        else:
            self.listener.sni_callback = None  # one certificate: no callback per handshake

    def contexts(self) -> list[ssl.SSLContext]:
        """Every context serving a certificate, once each."""
        m = self.map
        every = {id(c): c for c in (*m.exact.values(), *m.wildcard.values(), m.default)}
        return [c for c in every.values() if isinstance(c, ssl.SSLContext)]

    @staticmethod
    def _single(m: CertificateMap) -> bool:
        values = {id(v) for v in (*m.exact.values(), *m.wildcard.values())}
        return values == {id(m.default)}

    def _on_sni(
        self, sock: ssl.SSLObject, server_name: str | None, _: ssl.SSLContext
    ) -> int | None:
        context = self.map.pick(server_name)
        if isinstance(context, ssl.SSLContext) and context is not self.listener:
            sock.context = context
        return None

    def set_ticket_key(self, key: bytes) -> bool:
        """Install the master's ticket key on every context; False if not possible."""
        self.ticket_key = key
        ok = tickets.install(self.listener, key)
        for context in self.contexts():
            if context is not self.listener:
                ok = tickets.install(context, key) and ok
        return ok
