"""The ``[admin]`` table: where the master answers the admin API (`frontdesk status`, ...)."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import AfterValidator, BaseModel

from .types import MODEL_CONFIG, split_listen


def _admin_listen(value: str) -> str:
    if value in ("", "off") or value.startswith("unix:"):
        if value == "unix:":
            raise ValueError('"unix:" needs a path, e.g. "unix:/run/frontdesk.sock"')
        return value
    host, _ = split_listen(value)
    # The admin API changes what the server does (drain, purge): never on a public
    # interface. A Unix socket (file permissions) or loopback only.
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise ValueError(f"the admin API listens on loopback or a Unix socket only, got {value!r}")
    return value


class Admin(BaseModel):
    """The admin API, served by the master: JSON over HTTP, read by `frontdesk status`."""

    model_config = MODEL_CONFIG

    listen: Annotated[str, AfterValidator(_admin_listen)] = ""
    """Where the admin API listens: "unix:/path" (a socket only its owner can use),
    "127.0.0.1:PORT" (loopback only), "off", or "" for the Unix socket
    <tempdir>/frontdesk-<first listen port>.sock. Default ""."""
