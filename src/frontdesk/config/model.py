"""The config as one frozen pydantic model tree; each field's docstring is its user documentation.

The TOML keys are a contract (see DESIGN.md): ``[server]`` and ``[[route]]``. Models
forbid unknown keys so a typo is an error, not a silently ignored setting.

Adding a route action (static, proxy, ...) is one more optional field on ``Route``
plus its name in ``ACTIONS``; the one-action check then covers it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ..errors import ConfigError, ConfigIssue
from .access import Access, RateLimit
from .admin import Admin
from .apps import APP_NAME, App
from .cache import Cache
from .http2 import Http2
from .proxy import Health, Pool, Proxy
from .static import Static
from .tls import Listener, Tls, uncovered
from .types import (
    MODEL_CONFIG,
    Count,
    Duration,
    HeaderMap,
    Hosts,
    ListenAddress,
    Methods,
    Network,
    Size,
    Workers,
    check_absolute_path,
    check_field_value,
    check_redirect_target,
    check_regex,
    host_port,
    split_listen,
)

__all__ = [
    "Config",
    "ServerConfig",
    "Route",
    "Match",
    "Respond",
    "Redirect",
    "ACTIONS",
    "apply_env",
]


def _listen_list(value: object) -> object:
    # `listen = ":8080"` and `listen = 8080` are common enough to accept as a one-item list.
    return (value,) if isinstance(value, str | int) else value


def _no_duplicates(entries: tuple[str | Listener, ...]) -> tuple[str | Listener, ...]:
    seen = set()
    for entry in entries:
        address = entry if isinstance(entry, str) else entry.address
        if address in seen:
            raise ValueError(f"{address!r} is listed twice")
        seen.add(address)
    return entries


def _listen_kind(value: object) -> str:
    return "table" if isinstance(value, dict | Listener) else "str"


# A listen entry: a plain address string, or a table with TLS options (config/tls.py).
ListenEntry = Annotated[
    Annotated[ListenAddress, Tag("str")] | Annotated[Listener, Tag("table")],
    Discriminator(_listen_kind),
]


def _server_header(value: str) -> str:
    return check_field_value(value, "server_header")


def _lower_names(headers: dict[str, str]) -> dict[str, str]:
    # Field names are case-insensitive (RFC 9110 §5.1); lowercase once here, not per request.
    return {name.lower(): value for name, value in headers.items()}


class ServerConfig(BaseModel):
    """The ``[server]`` table: sockets, processes, logging, limits and timeouts."""

    model_config = MODEL_CONFIG

    listen: Annotated[
        tuple[ListenEntry, ...],
        BeforeValidator(_listen_list),
        Field(min_length=1),
        AfterValidator(_no_duplicates),
    ] = ("0.0.0.0:8080",)
    """Addresses to accept connections on: "host:port", "[::1]:port", ":port" (all
    interfaces) or a bare port; or a table { address, tls, redirect_https, h2c } (see
    [tls], [http2]), e.g. ["0.0.0.0:80", { address = "0.0.0.0:443", tls = true }]. One string is
    accepted as a one-item list. When $PORT is set (Heroku), it replaces the port of
    every address. Default ["0.0.0.0:8080"]."""

    workers: Workers = "auto"
    """Worker processes sharing the listening sockets: a number >= 1, or "auto" for one
    per CPU core. Default "auto"."""

    access_log: Annotated[str, Field(min_length=1)] = "-"
    """Where access log lines go: "-" for stdout, "off" for nowhere, or a file path.
    Default "-"."""

    access_log_format: Literal["combined", "json"] = "combined"
    """Access log line format: "combined" (as nginx/Apache) or "json" (one object per
    line). Default "combined"."""

    server_header: Annotated[str, AfterValidator(_server_header)] = "frontdesk"
    """Value of the Server response header; "" to send none. Default "frontdesk"."""

    pid_file: str = ""
    """Where the master writes its process id; "" for <tempdir>/frontdesk-<port>.pid,
    using the first listen port. Default ""."""

    max_uri_size: Size = 8 * 1024
    """Longest request-target accepted; longer gets 414 URI Too Long. Default "8KB"."""

    max_header_size: Size = 32 * 1024
    """Largest request line plus header section; bigger gets 431. Default "32KB"."""

    max_headers: Count = 100
    """Most header fields in one request; more gets 431. Default 100."""

    max_body_size: Size = 1024 * 1024
    """Largest request body; bigger gets 413 Content Too Large. 0 means unlimited.
    Default "1MB"."""

    max_connections: Count = 20000
    """Most open client connections per worker. At the limit the worker stops
    accepting and further clients wait in the listen backlog (or go to another
    worker) until some close. Default 20000."""

    header_timeout: Annotated[Duration, Field(gt=0)] = 10.0
    """The whole request head must arrive within this long (defeats slowloris).
    Default "10s"."""

    body_timeout: Annotated[Duration, Field(gt=0)] = 30.0
    """Longest wait between two reads of a request body. Default "30s"."""

    keepalive_timeout: Duration = 15.0
    """An idle keep-alive connection is closed after this long; 0 disables keep-alive.
    Default "15s"."""

    write_timeout: Annotated[Duration, Field(gt=0)] = 30.0
    """A response write that makes no progress for this long closes the connection.
    Default "30s"."""

    shutdown_timeout: Duration = 30.0
    """On SIGTERM, in-flight requests get this long to finish. Default "30s"."""

    drain_timeout: Duration = 300.0
    """On reload, old workers keep serving open long-lived connections up to this long.
    Default "300s"."""

    backlog: Count = 2048
    """Listen backlog: connections the kernel queues before accept(). Default 2048."""

    starting_page: str = ""
    """An HTML file answered (status 503, with Retry-After) on a `proxy` route whose
    pool has no ready server yet: an app still starting, or restarting after a crash.
    Relative to the config file's directory. Default: a short built-in page."""

    @field_validator("starting_page")
    @classmethod
    def _starting_page(cls, value: str, info: ValidationInfo) -> str:
        if not value:
            return value
        base = (info.context or {}).get("config_dir") or os.getcwd()
        path = os.path.normpath(os.path.join(base, os.path.expanduser(value)))
        if not os.path.isfile(path):
            raise ValueError(f"file {path!r} does not exist")
        return path

    trusted_proxies: tuple[Network, ...] = ()
    """Addresses or CIDR networks (e.g. ["10.0.0.0/8", "::1"]) of proxies in front of
    frontdesk (a cloud load balancer) whose X-Forwarded-For, X-Forwarded-Proto,
    X-Forwarded-Host and Forwarded headers are believed: a `proxy` route appends to
    them. From any other client those headers are dropped and replaced with what
    frontdesk saw itself. Default [] (trust nobody)."""


class Match(BaseModel):
    """Which requests a route takes. Every key given must match; no keys match everything."""

    model_config = MODEL_CONFIG

    path: Annotated[str, AfterValidator(check_absolute_path)] | None = None
    """Path prefix, as nginx `location /static/`: "/static/" matches "/static/app.css".
    Must start with "/". At most one of path, exact, regex."""

    exact: Annotated[str, AfterValidator(check_absolute_path)] | None = None
    """The whole path, e.g. "/healthz" (the query string is not part of it)."""

    regex: Annotated[str, AfterValidator(check_regex)] | None = None
    """A Python regular expression searched in the path, e.g. "^/api/v[0-9]+/"."""

    host: Hosts = ()
    """Host name or list of them, without port, case-insensitive; "*.example.com"
    matches any subdomain of example.com. Default: any host."""

    method: Methods = ()
    """Method or list of methods, e.g. "GET" or ["GET", "HEAD"] (case-sensitive).
    Default: any method."""

    header: Annotated[HeaderMap, AfterValidator(_lower_names)] = {}
    """Request headers that must be present: name = exact value, or "*" for any value.
    Names are case-insensitive. Default: none."""

    @model_validator(mode="after")
    def _check(self) -> Match:
        given = [k for k in ("path", "exact", "regex") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(f"use at most one of path, exact, regex (got {', '.join(given)})")
        return self


class Respond(BaseModel):
    """Answer directly from memory, e.g. health checks and fixed pages."""

    model_config = MODEL_CONFIG

    status: Annotated[int, Field(ge=100, le=599)] = 200
    """Response status code, 100-599. Default 200."""

    body: str = ""
    """Response body, sent as UTF-8. Default ""."""

    headers: HeaderMap = {}
    """Response header fields, e.g. { "Content-Type" = "text/plain" }. Default none."""


def _redirect_shorthand(value: object) -> object:
    # `redirect = "https://example.com/"` is the common case; spell out the table for it.
    return {"to": value} if isinstance(value, str) else value


class Redirect(BaseModel):
    """Answer with a redirect to another URL."""

    model_config = MODEL_CONFIG

    to: Annotated[str, AfterValidator(check_redirect_target)]
    """Target URL. May use {host}, {path}, {query} (without "?") and {uri} (path and
    query as requested), e.g. "https://{host}{uri}". Required."""

    status: Literal[301, 302, 303, 307, 308] = 302
    """301, 302, 303, 307 or 308. Default 302. A plain string `redirect = "URL"` means
    a 302 to that URL."""


ACTIONS = ("respond", "redirect", "static", "proxy")
"""Route fields that are actions; a route has exactly one."""


class Route(BaseModel):
    """One ``[[route]]``: a match and exactly one action. Routes are tried in file order;
    the first that matches handles the request."""

    model_config = MODEL_CONFIG

    name: str = ""
    """A label for logs and the admin API. Default ""."""

    match: Match = Match()
    """Which requests this route takes. Default {} (every request)."""

    respond: Respond | None = None
    """Answer from memory: { status, body, headers }."""

    redirect: Annotated[Redirect | None, BeforeValidator(_redirect_shorthand)] = None
    """Redirect: { to, status }, or just the target URL."""

    static: Static | None = None
    """Serve files from a directory: { root, ... }."""

    proxy: Proxy | None = None
    """Forward to a pool of backend servers: { pool, ... }."""

    cache: str | None = None
    """Answer `proxy` requests through the ``[cache.NAME]`` cache of this name (RFC 9111).
    Default: no cache."""

    access: str | None = None
    """Only requests the ``[access.NAME]`` rule of this name lets through are answered
    (Basic auth, signed URLs, address lists, forward auth). Default: everyone."""

    auth: str | None = None
    """The same as `access` (the spelling of the design sketch, ``[auth.NAME]``)."""

    internal: bool = False
    """Reached only through a backend's X-Accel-Redirect answer on another route; a
    request for it from a client gets 404. Default false."""

    rate_limit: RateLimit | None = None
    """Limit requests per client: { rate = "10/s", burst = 20, key = "address" }.
    Default: no limit."""

    @property
    def access_name(self) -> str | None:
        """The access rule this route names, in either spelling."""
        return self.access or self.auth

    @model_validator(mode="after")
    def _one_action(self) -> Route:
        given = [a for a in ACTIONS if getattr(self, a) is not None]
        if len(given) != 1:
            which = "none" if not given else " and ".join(given)
            actions = ", ".join(ACTIONS)
            raise ValueError(f"a route needs exactly one action ({actions}); got {which}")
        return self

    @property
    def action(self) -> str:
        """The name of this route's action, e.g. "respond"."""
        return next(a for a in ACTIONS if getattr(self, a) is not None)


class Config(BaseModel):
    """The whole config file."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, use_attribute_docstrings=True, populate_by_name=True
    )

    server: ServerConfig = ServerConfig()
    """The ``[server]`` table."""

    routes: tuple[Route, ...] = Field(default=(), alias="route")
    """The ``[[route]]`` tables, in file order. No routes: every request gets 404."""

    admin: Admin = Admin()
    """The ``[admin]`` table."""

    pools: dict[str, Pool] = Field(default={}, alias="pool")
    """The ``[pool.NAME]`` tables: groups of backend servers that `proxy` routes name."""

    caches: dict[str, Cache] = Field(default={}, alias="cache")
    """The ``[cache.NAME]`` tables: HTTP caches that routes name with ``cache = "NAME"``."""

    apps: dict[str, App] = Field(default={}, alias="app")
    """The ``[app.NAME]`` tables: processes frontdesk starts and supervises."""

    @model_validator(mode="after")
    def _app_names(self) -> Config:
        for name, app in list(self.apps.items()):
            if not APP_NAME.fullmatch(name):
                raise ValueError(f"app name {name!r}: use letters, digits, '-' and '_'")
            if not app.pool:
                self.apps[name] = app = app.model_copy(update={"pool": name})
            pool = self.pools.get(app.pool)
            if pool is None:
                # No [pool.NAME] of that name: one with the pool defaults, checked as
                # the app's instances are (dumped with the config, so a worker has it).
                self.pools[app.pool] = pool = Pool(health=app.health or Health())
            pool.mark_app_fed()
        return self

    def app_pools(self) -> dict[str, list[str]]:
        """Pool name → the apps whose instances join it."""
        out: dict[str, list[str]] = {}
        for name, app in self.apps.items():
            out.setdefault(app.pool, []).append(name)
        return out

    access_rules: dict[str, Access] = Field(default={}, alias="access")
    """The ``[access.NAME]`` tables: access rules that routes name with
    ``access = "NAME"``."""

    auth_rules: dict[str, Access] = Field(default={}, alias="auth")
    """``[auth.NAME]``: the same as ``[access.NAME]`` (the design sketch's spelling)."""

    def access_rule(self, name: str) -> Access:
        """The [access.NAME] (or [auth.NAME]) table of this name."""
        rule = self.access_rules.get(name)
        return rule if rule is not None else self.auth_rules[name]

    tls: Tls | None = None
    """The ``[tls]`` table: certificates for the `tls = true` listeners."""

    http2: Http2 = Http2()
    """The ``[http2]`` table: HTTP/2 on TLS listeners (ALPN) and h2c listeners."""

    @model_validator(mode="after")
    def _check_tls(self) -> Config:
        listeners = self.listeners()
        if any(x.tls for x in listeners):
            if self.tls is None or not self.tls.has_certificates:
                raise ValueError(
                    "a tls listener needs certificates: add [tls] with cert and key, "
                    "certificates, or acme"
                )
        elif any(x.redirect_https for x in listeners):
            raise ValueError("redirect_https needs a listener with tls = true to redirect to")
        if self.tls is not None and self.tls.acme is not None:
            hosts = [h for r in self.routes for h in r.match.host]
            wild = [h for h in uncovered(self.tls, hosts) if "*" in h]
            if wild:
                raise ValueError(
                    f"tls.acme: cannot get a certificate for {wild[0]!r}: wildcard names "
                    "need the DNS-01 challenge, which frontdesk does not do; list the "
                    "exact names in the route's host, or add a certificate for it to "
                    "tls.certificates"
                )
        return self

    def listeners(self) -> list[Listener]:
        """Every listen entry as a table (a plain string is a plain HTTP listener)."""
        return [Listener(address=a) if isinstance(a, str) else a for a in self.server.listen]

    def listen_addresses(self) -> list[tuple[str, int]]:
        """(host, port) pairs to bind; host "" means all interfaces, IPv6 without brackets."""
        return [split_listen(x.address) for x in self.listeners()]

    def resolved_workers(self, cpu_count: int | None = None) -> int:
        """Worker processes to run: `workers`, or the CPU count when it is "auto"."""
        if self.server.workers != "auto":
            return self.server.workers
        return max(1, cpu_count if cpu_count is not None else (os.cpu_count() or 1))

    def pid_file_path(self) -> str:
        """`pid_file`, or its default <tempdir>/frontdesk-<first listen port>.pid."""
        if self.server.pid_file:
            return self.server.pid_file
        port = self.listen_addresses()[0][1]
        return os.path.join(tempfile.gettempdir(), f"frontdesk-{port}.pid")

    def admin_address(self) -> str | tuple[str, int] | None:
        """The admin API's Unix socket path, or its (host, port), or None when "off"."""
        listen = self.admin.listen
        if listen == "off":
            return None
        if listen.startswith("unix:"):
            return listen[len("unix:") :]
        if listen:
            return split_listen(listen)
        port = self.listen_addresses()[0][1]
        return os.path.join(tempfile.gettempdir(), f"frontdesk-{port}.sock")

    def to_json(self) -> str:
        """Serialise for worker processes; `Config.model_validate_json` reads it back equal."""
        return self.model_dump_json(by_alias=True)


def apply_env(config: Config, environ: Mapping[str, str]) -> Config:
    """Return `config` with $PORT (when set) as the port of every listen address (Heroku)."""
    raw = environ.get("PORT")
    if raw is None or raw.strip() == "":
        return config
    if not raw.strip().isdigit() or int(raw) > 65535:
        raise ConfigError(
            [ConfigIssue("environment", "PORT", None, f"invalid $PORT {raw!r}: expected 0-65535")]
        )
    port = int(raw)
    listen: list[str | Listener] = []
    seen = set()
    for entry in config.server.listen:
        host, _ = split_listen(entry if isinstance(entry, str) else entry.address)
        address = host_port(host, port)
        if address not in seen:  # "a:80" and "a:81" both become "a:$PORT"
            seen.add(address)
            listen.append(
                address if isinstance(entry, str) else entry.model_copy(update={"address": address})
            )
    server = config.server.model_copy(update={"listen": tuple(listen)})
    return config.model_copy(update={"server": server})
