"""TLS to backends: one client SSLContext per pool, built once from its `tls` table."""

from __future__ import annotations

import ipaddress
import ssl

from frontdesk.config.upstream_tls import UpstreamTls

__all__ = ["client_context", "server_hostname"]


def client_context(tls: UpstreamTls) -> ssl.SSLContext:
    """Verifying (system store, or `ca`), TLS 1.2+, with the client certificate if any."""
    context = ssl.create_default_context(cafile=tls.ca)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if not tls.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if tls.cert is not None and tls.key is not None:
        context.load_cert_chain(tls.cert, tls.key)
    context.set_alpn_protocols(["http/1.1"])
    return context


def server_hostname(tls: UpstreamTls, host: str) -> str:
    """The name to verify (and, unless an IP address, to send by SNI) for `host`."""
    if tls.server_name:
        return tls.server_name
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host.rstrip(".")
    return host  # Python sends no SNI for an IP literal and matches the IP SANs
