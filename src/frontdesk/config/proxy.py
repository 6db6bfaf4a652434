"""The `proxy` route action and the `[pool.NAME]` tables of backend servers."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, model_validator

from .types import (
    MODEL_CONFIG,
    Count,
    Duration,
    Size,
    check_absolute_path,
    check_field_value,
    check_regex,
)

__all__ = ["Proxy", "Pool", "PrefixReplace", "Rewrite", "UpstreamAddress", "split_upstream"]


class PrefixReplace(BaseModel):
    """Replace one path prefix with another: { from = "/api/", to = "/v2/" }."""

    model_config = MODEL_CONFIG

    from_: Annotated[str, AfterValidator(check_absolute_path)] = Field(alias="from")
    """The prefix to take away, e.g. "/api/". Required."""

    to: Annotated[str, AfterValidator(check_absolute_path)]
    """What to put in its place, e.g. "/v2/". Required."""


class Rewrite(BaseModel):
    """A regular-expression rewrite of the path: { regex = '^/u/(\\d+)$', to = '/users/\\1' }."""

    model_config = MODEL_CONFIG

    regex: Annotated[str, AfterValidator(check_regex)]
    """A Python regular expression searched in the path. Required."""

    to: str
    """The replacement (Python `re.sub` syntax: `\\1` or `\\g<name>` for groups; write it
    in a TOML 'literal string' so backslashes stay as they are). The result must start
    with "/". Required."""

    @model_validator(mode="after")
    def _groups_exist(self) -> Rewrite:
        # A reference to a group the regex does not have fails here, not per request.
        check_field_value(self.to, "rewrite target")
        pattern = re.compile(self.regex)
        for number, name in _GROUP_REF.findall(self.to):
            ok = (
                int(number) <= pattern.groups
                if number
                else (
                    name in pattern.groupindex or (name.isdigit() and int(name) <= pattern.groups)
                )
            )
            if not ok:
                ref = number or name
                raise ValueError(f"rewrite target refers to group {ref!r}, which the regex lacks")
        return self


_GROUP_REF = re.compile(r"\\(\d+)|\\g<(\w+)>")


def _host_header(value: str) -> str:
    check_field_value(value, "host_header")
    if not value:
        raise ValueError('must not be empty: use "client", "upstream" or a host name')
    return value


class Proxy(BaseModel):
    """Forward requests to a pool of backend servers, streaming both ways."""

    model_config = MODEL_CONFIG

    pool: str
    """Name of the ``[pool.NAME]`` table to forward to. Required."""

    strip_prefix: Annotated[str, AfterValidator(check_absolute_path)] | None = None
    """Take this prefix off the path before forwarding: with "/api", "/api/users" is
    forwarded as "/users" (and "/api" as "/"). At most one of strip_prefix,
    replace_prefix, rewrite. Default: the path is forwarded as the client sent it."""

    replace_prefix: PrefixReplace | None = None
    """Replace a path prefix: { from = "/api/", to = "/v2/" } forwards "/api/x" as
    "/v2/x". Paths without the prefix are forwarded unchanged."""

    rewrite: Rewrite | None = None
    """Rewrite the path with a regular expression: { regex = '^/u/(\\d+)$', to =
    '/users/\\1' }. Every match in the path is replaced."""

    host_header: Annotated[str, AfterValidator(_host_header)] = "client"
    """The Host header sent to the backend: "client" passes the client's, "upstream"
    sends the backend's own address ("127.0.0.1:9001"; "localhost" for a unix socket),
    anything else is sent as written. The client's Host always goes in
    X-Forwarded-Host and Forwarded. Default "client"."""

    max_body_size: Size | None = None
    """Largest request body this route forwards (uploads), overriding
    `server.max_body_size` for it; 0 means unlimited. Bodies are streamed, never held
    in memory, so a large limit costs nothing. Default: `server.max_body_size`."""

    @model_validator(mode="after")
    def _one_rewrite(self) -> Proxy:
        given = [k for k in ("strip_prefix", "replace_prefix", "rewrite") if getattr(self, k)]
        if len(given) > 1:
            raise ValueError(
                f"use at most one of strip_prefix, replace_prefix, rewrite (got {', '.join(given)})"
            )
        return self


_UPSTREAM_HINT = 'expected "host:port", "[v6]:port" or "unix:/path"'
_HOST_RE = re.compile(r"[A-Za-z0-9_.-]+")


def split_upstream(address: str) -> tuple[str, int] | str:
    """A normalised upstream address → (host, port), or the socket path of "unix:/path"."""
    if address.startswith("unix:"):
        return address[5:]
    host, _, port = address.rpartition(":")
    return host.removeprefix("[").removesuffix("]"), int(port)


def _upstream_address(value: object) -> object:
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("unix:"):
        if not text[5:].startswith("/"):
            raise ValueError(f"invalid server {value!r}: a unix socket path must be absolute")
        return text
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
        ok = sep and host and all(c in "0123456789abcdefABCDEF:." for c in host)
    else:
        host, sep, port = text.rpartition(":")
        ok = sep and host and _HOST_RE.fullmatch(host) is not None
    if not ok or not port.isdigit() or not 0 < int(port) <= 65535:
        raise ValueError(f"invalid server {value!r}: {_UPSTREAM_HINT}")
    return text


UpstreamAddress = Annotated[str, BeforeValidator(_upstream_address)]


def _no_duplicates(servers: tuple[str, ...]) -> tuple[str, ...]:
    if not servers:
        raise ValueError("must not be empty: list at least one server")
    if len(set(servers)) != len(servers):
        dup = next(s for s in servers if servers.count(s) > 1)
        raise ValueError(f"{dup!r} is listed twice")
    return servers


class Pool(BaseModel):
    """A group of interchangeable backend servers that `proxy` routes forward to.

    Requests are spread over the servers in turn (round robin). Each worker keeps its
    own keep-alive connections to each server."""

    model_config = MODEL_CONFIG

    servers: Annotated[tuple[UpstreamAddress, ...], AfterValidator(_no_duplicates)]
    """Backend addresses: "host:port", "[::1]:port" or "unix:/path/to.sock". Required."""

    connect_timeout: Annotated[Duration, Field(gt=0)] = 5.0
    """Longest wait for a connection to a backend; then the next server is tried, and
    the client gets 504 when none is left. Default "5s"."""

    send_timeout: Annotated[Duration, Field(gt=0)] = 60.0
    """Longest a backend may take to accept more of the request (head or body) before
    the request fails with 504. Default "60s"."""

    read_timeout: Annotated[Duration, Field(gt=0)] = 60.0
    """Longest wait for the first byte of the response once the request is sent;
    then 504. Default "60s"."""

    idle_timeout: Annotated[Duration, Field(gt=0)] = 60.0
    """Longest silence between two reads of a response body; then the response is cut
    off (the client sees it end early). Default "60s"."""

    tunnel_timeout: Annotated[Duration, Field(gt=0)] = 3600.0
    """An upgraded connection (WebSocket) that carries no bytes either way for this
    long is closed. Default "1h"."""

    keepalive: Annotated[int, Field(ge=0)] = 32
    """Idle connections kept open per backend server, per worker, for reuse; 0 opens a
    new connection for every request. Default 32."""

    keepalive_timeout: Annotated[Duration, Field(gt=0)] = 4.0
    """An idle kept-alive connection is closed after this long. Keep it below the
    backend's own keep-alive timeout (gunicorn 2s, uvicorn 5s, nginx 75s) so that
    frontdesk, not the backend, closes idle connections. Default "4s"."""

    max_connections: Annotated[int, Field(ge=0)] = 0
    """Most connections (busy and idle) open to one backend server per worker; a
    request that finds every server at the cap waits up to connect_timeout for one,
    then gets 503. 0 means no cap. Default 0."""

    retries: Annotated[int, Field(ge=0, le=10)] = 2
    """After a failure to connect (or a connect timeout, or every connection busy) a
    request is tried on another server of the pool not tried yet, up to this many
    times; nothing had been sent, so this holds for any method. Separately, when a
    reused keep-alive connection fails before any response byte (the backend closed
    it as the request went out), an idempotent request without a body (GET, HEAD,
    PUT, DELETE, OPTIONS, TRACE) is sent once more on a fresh connection. A request
    that may have reached a backend otherwise is never retried. Default 2."""

    keepalive_requests: Count = 10000
    """A connection to a backend is closed after carrying this many requests.
    Default 10000."""
