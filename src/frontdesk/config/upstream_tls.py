"""TLS to the backends of a pool: `servers = ["https://app.internal:8443"]` or
`tls = { ca = "...", cert = "...", key = "..." }` on the pool."""

from __future__ import annotations

import os
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ValidationInfo, model_validator

from .tls import check_pair
from .types import MODEL_CONFIG

__all__ = ["UpstreamTls", "https_servers"]


def _absolute(value: str, info: ValidationInfo) -> str:
    base = (info.context or {}).get("config_dir") or os.getcwd()
    path = os.path.normpath(os.path.join(base, os.path.expanduser(value)))
    if not os.path.isfile(path):
        raise ValueError(f"no such file {path!r}")
    return path


class UpstreamTls(BaseModel):
    """How frontdesk speaks TLS to a pool's servers."""

    model_config = MODEL_CONFIG

    ca: Annotated[str, AfterValidator(_absolute)] | None = None
    """PEM file of the CA certificates that sign the backends' certificates; default
    the system's trust store."""

    verify: bool = True
    """Verify the backend's certificate and its name. false only for a backend on the
    same machine with a throw-away certificate. Default true."""

    server_name: str = ""
    """The name sent by SNI and checked against the certificate; "" for the host of
    each server's address (an IP address is checked against the certificate's IP
    names and sends no SNI, RFC 6066 §3). Default ""."""

    cert: Annotated[str, AfterValidator(_absolute)] | None = None
    """Client certificate (PEM chain) for backends that require one (mutual TLS)."""

    key: Annotated[str, AfterValidator(_absolute)] | None = None
    """The private key of `cert`."""

    @model_validator(mode="after")
    def _check(self) -> UpstreamTls:
        if (self.cert is None) != (self.key is None):
            raise ValueError("cert and key go together: give both or neither")
        if self.cert is not None and self.key is not None:
            check_pair(self.cert, self.key)
        if self.ca is not None:
            import ssl

            try:
                ssl.create_default_context(cafile=self.ca)
            except ssl.SSLError:
                raise ValueError(f"{self.ca}: no PEM CA certificate in it") from None
        return self


def https_servers(data: Any) -> Any:
    """A pool whose servers are written "https://host:port": strip the scheme and turn
    on `tls` (with its defaults unless given). All of a pool's servers speak the same."""
    if not isinstance(data, dict) or not isinstance(data.get("servers"), list):
        return data
    servers = data["servers"]

    def address(item: Any) -> Any:
        return item.get("address") if isinstance(item, dict) else item

    schemes = {
        a.split("://", 1)[0] for a in map(address, servers) if isinstance(a, str) and "://" in a
    }
    if not schemes:
        return data
    if schemes - {"http", "https"}:
        raise ValueError(f"unknown scheme in servers: {', '.join(sorted(schemes))}")
    plain = [a for a in map(address, servers) if isinstance(a, str) and "://" not in a]
    if len(schemes) > 1 or (plain and "https" in schemes):
        raise ValueError("a pool's servers all speak https or all plain http: do not mix")

    def strip(item: Any) -> Any:
        if isinstance(item, dict) and isinstance(item.get("address"), str):
            return {**item, "address": item["address"].split("://", 1)[1]}
        return item.split("://", 1)[1] if isinstance(item, str) else item

    out = {**data, "servers": [strip(s) for s in servers]}
    if "https" in schemes and out.get("tls") is None:
        out["tls"] = {}
    return out
