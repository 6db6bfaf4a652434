"""The ``[admin]`` table: where the master answers the admin API (`frontdesk status`, ...)."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ValidationInfo, field_validator

from .types import MODEL_CONFIG, split_listen


def _admin_listen(value: str) -> str:
    if value in ("", "off") or value.startswith("unix:"):
        if value == "unix:":
            raise ValueError('"unix:" needs a path, e.g. "unix:/run/frontdesk.sock"')
        return value
    split_listen(value)  # "host:port", checked
    return value


def is_loopback(listen: str) -> bool:
    """Whether a TCP admin address is on loopback (or is a Unix socket, "", "off")."""
    if listen in ("", "off") or listen.startswith("unix:"):
        return True
    host, _ = split_listen(listen)
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class Admin(BaseModel):
    """The admin API, served by the master: JSON over HTTP, read by `frontdesk status`."""

    model_config = MODEL_CONFIG

    token: str = ""
    """A secret that TCP clients of the admin API must send as `Authorization: Bearer
    <token>` (compared in constant time); at least 16 characters. Required when
    `listen` is a TCP address other than loopback: the admin API drains servers,
    purges the cache and reloads. Default "" (none: loopback and the Unix socket are
    guarded by who can reach them)."""

    listen: Annotated[str, AfterValidator(_admin_listen)] = ""
    """Where the admin API listens: "unix:/path" (a socket only its owner can use),
    "127.0.0.1:PORT" (loopback), "off", or "" for the Unix socket
    <tempdir>/frontdesk-<first listen port>.sock. Any other "HOST:PORT" needs a
    `token`. The status page is at /ui, Prometheus metrics at /metrics. Default ""."""

    @field_validator("token")
    @classmethod
    def _long_enough(cls, value: str) -> str:
        if value and len(value) < 16:
            raise ValueError("use at least 16 characters")
        return value

    @field_validator("listen")
    @classmethod
    def _token_off_loopback(cls, value: str, info: ValidationInfo) -> str:
        if not is_loopback(value) and not info.data.get("token"):
            raise ValueError(
                f"{value!r} is not loopback: set admin.token (a secret of 16+ characters "
                "that clients send as a Bearer token), or listen on 127.0.0.1 or a unix: "
                "socket"
            )
        return value
