"""The `proxy` route action and the `[pool.NAME]` tables of backend servers."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, PrivateAttr, model_validator

from frontdesk.balance.keys import KeySource

from .types import (
    MODEL_CONFIG,
    Count,
    Duration,
    Size,
    _whole_number,
    check_absolute_path,
    check_field_value,
    check_regex,
)
from .upstream_tls import UpstreamTls, https_servers

__all__ = [
    "Proxy",
    "Pool",
    "Server",
    "Health",
    "Passive",
    "Sticky",
    "PrefixReplace",
    "Rewrite",
    "UpstreamAddress",
    "split_upstream",
]


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


class Server(BaseModel):
    """One backend server of a pool, written as a table: { address = "127.0.0.1:9001",
    weight = 3 }. A plain string "127.0.0.1:9001" is the same with weight 1. With
    { address = "app.internal:8000", resolve = true } the name stands for every server
    its DNS records give (see `resolve`)."""

    model_config = MODEL_CONFIG

    address: UpstreamAddress
    """"host:port", "[::1]:port" or "unix:/path/to.sock". Required."""

    weight: Annotated[int, BeforeValidator(_whole_number), Field(ge=1, le=1000)] = 1
    """This server's share of the requests relative to the others (1 to 1000): a server
    of weight 3 gets three times the requests of one of weight 1. With `resolve`, each
    address found has this weight. Default 1."""

    resolve: Annotated[bool, Field(strict=True)] = False  # TOML has true/false: no "yes"
    """DNS discovery: the pool holds one server per A/AAAA record of the name in
    `address` (with its port), as Kubernetes headless services and Consul publish
    them. The master resolves the name every `resolve_interval` of the pool (the
    records' TTLs are not read: the interval is the refresh period) and tells the
    workers when the list changes; a server that leaves finishes its requests in
    flight. When a lookup fails, the last addresses found stay (and the failure is
    logged once); until the first lookup, the name itself is the server. Default
    false."""

    @model_validator(mode="after")
    def _resolvable(self) -> Server:
        if self.resolve and self.address.startswith("unix:"):
            raise ValueError('resolve = true needs a "name:port" address, not a unix socket')
        return self


def _server_item(value: object) -> object:
    # The short spelling: a bare address string is a server of weight 1.
    if isinstance(value, str):
        return {"address": _upstream_address(value)}
    return value


ServerItem = Annotated[Server, BeforeValidator(_server_item)]


def _no_duplicates(servers: tuple[Server, ...]) -> tuple[Server, ...]:
    # An empty list is for a pool an [app.NAME] fills (config/validate.py checks that).
    addresses = [s.address for s in servers]
    if len(set(addresses)) != len(addresses):
        dup = next(a for a in addresses if addresses.count(a) > 1)
        raise ValueError(f"{dup!r} is listed twice")
    return servers


def _hash_spec(value: str) -> str:
    KeySource.parse(value)  # raises ValueError naming the accepted forms
    return value


def _status_range(value: object) -> object:
    # "200-399", "200" or 200 -> (low, high), inclusive; a tuple is accepted back.
    if isinstance(value, bool):
        raise ValueError('expected a status range such as "200-399"')
    if isinstance(value, int):
        value = str(value)
    if isinstance(value, str):
        low, sep, high = value.strip().partition("-")
        if not low.strip().isdigit() or (sep and not high.strip().isdigit()):
            raise ValueError(f'expected a status range such as "200-399", got {value!r}')
        value = (int(low), int(high) if sep else int(low))
    if isinstance(value, (tuple, list)) and len(value) == 2:
        low_n, high_n = value
        if not 100 <= low_n <= high_n <= 599:
            raise ValueError("status range: 100 <= low <= high <= 599")
        return tuple(value)
    raise ValueError('expected a status range such as "200-399"')


class Passive(BaseModel):
    """Passive health checks: a server that fails on real traffic is taken out for a
    while. Failures are 5xx answers, connect errors and timeouts, as each worker sees
    them."""

    model_config = MODEL_CONFIG

    consecutive: Annotated[int, BeforeValidator(_whole_number), Field(ge=0)] = 5
    """Failures in a row that eject a server; 0 turns passive checks off. Default 5."""

    base: Annotated[Duration, Field(gt=0)] = 30.0
    """How long the first ejection lasts; each further ejection in a row doubles it.
    An ejected server comes back on probation: one more failure ejects it again.
    Default "30s"."""

    max: Annotated[Duration, Field(gt=0)] = 300.0
    """The longest an ejection lasts; a server that stays in for this long starts again
    from `base`. Default "300s"."""

    @model_validator(mode="after")
    def _ordered(self) -> Passive:
        if self.max < self.base:
            raise ValueError("max must be at least base")
        return self


class Health(BaseModel):
    """How a pool tells healthy servers from failing ones. Passive checks (`passive`)
    run in every worker, on its own traffic. Active checks (`path` ... `expect_body`)
    run once, in the master, which tells every worker when a server goes down or comes
    back up. A server counts as up until checks say otherwise: it takes `fall` failed
    checks in a row to take it down, from the start too. A pool of one server (not a
    name to resolve) is not checked: there is no other server to send its requests
    to."""

    model_config = MODEL_CONFIG

    passive: Passive = Passive()
    """Ejection of servers that fail on real traffic: { consecutive = 5, base = "30s",
    max = "300s" }. Default: on, with those values."""

    path: Annotated[str, AfterValidator(check_absolute_path)] | None = None
    """Active checks: the path requested from each server, e.g. "/healthz" (an
    HTTP/1.1 request with the server's own address as Host, and `Connection: close`).
    Default: no active checks."""

    method: Literal["GET", "HEAD"] = "GET"
    """Active checks: the method of the check request. Default "GET"."""

    interval: Annotated[Duration, Field(gt=0)] = 5.0
    """Active checks: time between two checks of a server (each round starts up to 10%
    early, so pools do not check in step). Default "5s"."""

    timeout: Annotated[Duration, Field(gt=0)] = 2.0
    """Active checks: a check with no complete answer in this long fails; at most
    `interval`. Default "2s", or `interval` when that is shorter."""

    rise: Count = 2
    """Active checks: passes in a row that bring a server that is down up. Default 2."""

    fall: Count = 3
    """Active checks: failures in a row (an answer outside `expect_status` or without
    `expect_body`, a refused connection, no answer within `timeout`) that take a
    server down. Default 3."""

    expect_status: Annotated[tuple[int, int], BeforeValidator(_status_range)] = (200, 399)
    """Active checks: the statuses that pass, as "200-399" or "200". Default
    "200-399"."""

    expect_body: str | None = None
    """Active checks: a passing answer's body must contain this text (the first 64 KiB
    of the body are searched). Default: the body is not looked at."""

    @model_validator(mode="after")
    def _timeout_fits(self) -> Health:
        if self.timeout <= self.interval:
            return self
        if "timeout" not in self.model_fields_set:
            # The default must fit the values the user gave: a check every 500ms
            # times out after 500ms rather than refusing a key nobody wrote.
            object.__setattr__(self, "timeout", self.interval)
            return self
        raise ValueError(
            f"timeout ({self.timeout:g}s) must not exceed interval ({self.interval:g}s)"
        )


_COOKIE_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 6265 §4.1.1: token


def _cookie_name(value: str) -> str:
    if not _COOKIE_NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not a valid cookie name")
    return value


class Sticky(BaseModel):
    """Sticky sessions: { cookie = "fd_srv", secret = "..." }."""

    model_config = MODEL_CONFIG

    cookie: Annotated[str, AfterValidator(_cookie_name)] = "fd_srv"
    """Name of the cookie that keeps a client on one server. Its value is a MAC of the
    server's address under `secret`: it does not reveal the address. Default
    "fd_srv"."""

    secret: Annotated[str, Field(min_length=16)]
    """A random string of at least 16 characters, the same for every frontdesk that
    serves the site, so that each maps a cookie to the same server. Required."""


class Pool(BaseModel):
    """A group of interchangeable backend servers that `proxy` routes forward to.

    Each worker spreads requests over the servers by the `balance` policy, takes
    failing servers out (`health`) and keeps its own keep-alive connections to each
    server. A pool of one server (not a name to resolve) skips all of that: there is
    nothing to choose."""

    model_config = MODEL_CONFIG

    servers: Annotated[tuple[ServerItem, ...], AfterValidator(_no_duplicates)] = ()
    """Backend servers: each "host:port", "[::1]:port" or "unix:/path/to.sock", or a
    table with a weight: { address = "127.0.0.1:9001", weight = 3 }, or a name to
    resolve: { address = "app.internal:8000", resolve = true }. Required, unless an
    ``[app.NAME]`` puts its instances in this pool (then they are added to these)."""

    # Set by Config: an [app.NAME] adds its instances to this pool, so its members
    # change at run time (the master sends them) whatever `servers` lists.
    _app_fed: bool = PrivateAttr(False)

    balance: Literal["p2c", "round_robin", "least_conn", "random", "hash"] = "p2c"
    """How a server is chosen for each request (weights count in every policy): "p2c"
    draws two servers and takes the one with fewer requests in flight relative to its
    recent latency (weights bias the draw only: with two servers, or one request at a
    time, the faster server takes most requests); "round_robin" takes each in turn;
    "least_conn" the one with the fewest requests in flight; "random" any; "hash"
    the server a key of the request (`hash`) maps to, so the same key goes to the same
    server while the pool holds. Default "p2c"."""

    hash: Annotated[str, AfterValidator(_hash_spec)] | None = None
    """With balance = "hash": the request key, "client" (the client address), "path",
    "header:NAME" or "cookie:NAME". A request without the header or cookie goes to a
    server chosen by weight. Required with balance = "hash", an error otherwise."""

    sticky: Sticky | None = None
    """Keep a client on the server it was first sent to, with a cookie: { cookie =
    "fd_srv", secret = "..." }. When that server is out (failing, removed), the client
    goes to another one and gets a new cookie. Default: no sticky sessions."""

    resolve_interval: Annotated[Duration, Field(gt=0)] = 30.0
    """How often the master looks up again the names of servers with `resolve = true`.
    Default "30s"."""

    slow_start: Annotated[Duration, Field(ge=0)] = 0.0
    """A server coming back after an ejection starts with 10% of its weight and ramps
    up to all of it over this long; 0 turns it off. Default 0."""

    retry_budget: Annotated[float, Field(ge=0, le=1)] = 0.2
    """Retries on another server, across the pool, may add at most this share of the
    requests (plus 10 a second), so a failing server cannot multiply the load on the
    others. Default 0.2."""

    health: Health = Health()
    """Health checks: { path = "/healthz", interval = "5s", passive = { consecutive = 5,
    base = "30s", max = "300s" } }. Without `path`, only passive checks run."""

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
    """Idle connections kept open per backend server, per worker, for reuse, at least:
    more are kept while the load uses them (as many as carried a request in the last
    one or two `keepalive_timeout` periods), so steady load never closes a connection
    only to open another; those no longer used close after `keepalive_timeout`.
    0 opens a new connection for every request. Default 32."""

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

    drain_timeout: Annotated[Duration, Field(ge=0)] = 30.0
    """An app instance leaving this pool (a rolling restart, a reload, a stop) gets no
    new requests, and is stopped once those in flight to it are done, or after this
    long. Default "30s"."""

    tls: UpstreamTls | None = None
    """Speak TLS to the servers: { ca, verify, server_name, cert, key } (see below);
    servers written "https://host:port" turn it on with the defaults (the system's
    trust store, SNI and name check from the address). Default: plain HTTP."""

    @model_validator(mode="before")
    @classmethod
    def _https(cls, data: Any) -> Any:
        return https_servers(data)

    @property
    def balanced(self) -> bool:
        """Whether there can be more than one server to choose from (else no balancer,
        health checks or admin state: nothing to choose)."""
        return len(self.servers) != 1 or self.servers[0].resolve or self._app_fed

    def mark_app_fed(self) -> None:
        """An [app.NAME] puts its instances in this pool (Config does this)."""
        self._app_fed = True

    @model_validator(mode="after")
    def _hash_with_balance(self) -> Pool:
        if self.balance == "hash" and self.hash is None:
            raise ValueError(
                'balance = "hash" needs hash = "client", "path", "header:NAME" or "cookie:NAME"'
            )
        if self.balance != "hash" and self.hash is not None:
            raise ValueError('hash is only used with balance = "hash"')
        return self
