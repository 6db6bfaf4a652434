"""Benchmark scenarios, declared as data.

A scenario is one workload run against nginx and frontdesk with the same request.
To add one, append a `Scenario` to `SCENARIOS`; nothing else needs to change.

Config texts may use these placeholders, replaced by the harness:
  {port}     the port the server under test listens on
  {workdir}  the scenario's scratch directory (bench/.work/<run>/<scenario>), e.g. for
             a static root or an upstream socket path
  {upstream_port}  the port of bench/backend.py, when the scenario sets `upstream`
  {shm}      a directory on tmpfs (/dev/shm) for that server alone, removed afterwards
             (nginx's proxy_cache_path, so its cache is memory-backed like the others)
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Request:
    """What wrk sends (and what the pre-flight check sends): path plus extra header fields."""

    path: str = "/"
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class File:
    """A file the harness creates under each server's `{workdir}` before starting it."""

    path: str
    size: int

    def content(self) -> bytes:
        # Deterministic, and not trivially compressible to nothing.
        pattern = bytes(range(32, 127))
        return (pattern * (self.size // len(pattern) + 1))[: self.size]


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    nginx_server: str
    """Contents of nginx's `server { }` block, without `listen` (the harness adds it)."""
    frontdesk_config: str
    """The whole frontdesk TOML file."""
    request: Request = field(default_factory=Request)
    connections: int = 64
    files: tuple[File, ...] = ()
    """Files created in each server's workdir (static scenarios)."""
    check: Request | None = None
    """The GET both servers must answer with the same status and body length before
    measuring; `None` means the measured request itself."""
    nginx_http: str = ""
    """Directives for nginx's `http { }` block (e.g. an `upstream`), placeholders too."""
    upstream: int = 0
    """Start bench/backend.py (pinned to the wrk core) for both servers to proxy to,
    listening on this many ports ({upstream_port}, {upstream_port2}, ...)."""
    upstream_headers: tuple[str, ...] = ()
    """Header field lines the backend adds to every response ("Name: value")."""
    servers: tuple[str, ...] = ("nginx", "frontdesk")
    """The servers measured side by side; frontdesk's req/s is divided by each other's.
    "varnish" is Varnish in front of the backend (needs `upstream`); "floor" is
    bench/floor.py on the frontdesk config (fixed-body scenarios only): the least a
    uvloop + httptools server does per request, to show what the parser itself costs;
    "floor-scan" adds the one check of the fields every server must make."""
    frontdesk_reference: str = ""
    """A second frontdesk config, measured as server "frontdesk-1" in the same
    interleaved rounds (list it in `servers`): the proxy pool scenario's single server,
    so the cost of choosing among three is a ratio from one run."""
    tls: bool = False
    """Both servers listen with TLS on a certificate the harness makes ({cert}, {key}:
    ECDSA P-256, as ACME clients get by default) and wrk speaks https."""
    cache_hits: bool = False
    """Every server must answer from its cache, checked after each warm-up and after
    each measured run by a header (nginx X-Cache-Status, Varnish X-Varnish, frontdesk
    Cache-Status): a scenario whose "hits" are forwarded fails instead of measuring
    the proxy."""

    @property
    def check_request(self) -> Request:
        return self.check if self.check is not None else self.request


BODY_1K = "x" * 1024

NGINX_FIXED_1K = f"""
    default_type text/plain;
    location / {{
        return 200 "{BODY_1K}";
    }}
"""

FRONTDESK_FIXED_1K = f"""
[server]
listen = ["127.0.0.1:{{port}}"]
workers = 1
access_log = "off"

[[route]]
respond = {{ status = 200, body = "{BODY_1K}", headers = {{ "Content-Type" = "text/plain" }} }}
"""

BROWSER_HEADERS: tuple[tuple[str, str], ...] = (
    (
        "User-Agent",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    ),
    (
        "Accept",
        "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
    ),
    ("Accept-Language", "en-GB,en-US;q=0.9,en;q=0.8,fr;q=0.7"),
    ("Accept-Encoding", "gzip, deflate, br, zstd"),
    (
        "Cookie",
        "sessionid=8f14e45fceea167a5a36dedd4bea2543; csrftoken=c9f0f895fb98ab91; theme=dark",
    ),
    ("Referer", "http://127.0.0.1/articles/2024/frontdesk?ref=home"),
    ("Sec-Fetch-Dest", "document"),
    ("Sec-Fetch-Mode", "navigate"),
    ("Sec-Fetch-Site", "same-origin"),
    ("Sec-Fetch-User", "?1"),
    ("Upgrade-Insecure-Requests", "1"),
    ("Cache-Control", "max-age=0"),
)

# nginx as people run it for static files: sendfile on, open_file_cache on.
NGINX_STATIC = """
    root {workdir}/www;
    sendfile on;
    open_file_cache max=10000 inactive=60s;
    open_file_cache_valid 60s;
    location / { }
"""

# compress = false: nginx's gzip is off by default, so both send the same bytes.
FRONTDESK_STATIC = """
[server]
listen = ["127.0.0.1:{port}"]
workers = 1
access_log = "off"

[[route]]
match = { path = "/" }
static = { root = "{workdir}/www", compress = false }
"""

STATIC_FILES = (
    File("www/1k.txt", 1024),
    File("www/100k.bin", 100 * 1024),
    File("www/10m.bin", 10 * 1024 * 1024),
)


def _static(name: str, description: str, path: str, **kw: object) -> Scenario:
    return Scenario(
        name=name,
        description=description,
        nginx_server=NGINX_STATIC,
        frontdesk_config=FRONTDESK_STATIC,
        request=Request(path=path, headers=kw.pop("headers", ())),  # type: ignore[arg-type]
        files=STATIC_FILES,
        **kw,  # type: ignore[arg-type]
    )


SCENARIOS: list[Scenario] = [
    Scenario(
        name="fixed-1k",
        description="1 KiB fixed body from config, keep-alive, bare `GET /` (only Host)",
        nginx_server=NGINX_FIXED_1K,
        frontdesk_config=FRONTDESK_FIXED_1K,
        servers=("nginx", "frontdesk", "floor", "floor-scan"),
    ),
    Scenario(
        name="fixed-1k-browser",
        description="as fixed-1k, with a browser-like request: 12 header fields, ~600 bytes",
        nginx_server=NGINX_FIXED_1K,
        frontdesk_config=FRONTDESK_FIXED_1K,
        request=Request(headers=BROWSER_HEADERS),
        servers=("nginx", "frontdesk", "floor", "floor-scan"),
    ),
    _static("static-1k", "a 1 KiB file from disk, bare `GET` (only Host)", "/1k.txt"),
    _static(
        "static-1k-browser",
        "the 1 KiB file with the browser-like request of fixed-1k-browser",
        "/1k.txt",
        headers=BROWSER_HEADERS,
    ),
    _static("static-100k", "a 100 KiB file from disk", "/100k.bin"),
    _static(
        "static-10m",
        "a 10 MiB file from disk, 16 connections: throughput (sendfile)",
        "/10m.bin",
        connections=16,
    ),
    _static(
        "static-1k-1000c",
        "the 1 KiB file over 1,000 concurrent keep-alive connections",
        "/1k.txt",
        connections=1000,
    ),
]

NGINX_PROXY_HTTP = """
    upstream app {
        server 127.0.0.1:{upstream_port};
        keepalive 64;
    }
"""

NGINX_PROXY = """
    location / {
        proxy_pass http://app;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
    }
"""

FRONTDESK_PROXY = """
[server]
listen = ["127.0.0.1:{port}"]
workers = 1
access_log = "off"

[[route]]
proxy = { pool = "app" }

[pool.app]
servers = ["127.0.0.1:{upstream_port}"]
keepalive = 64
"""

SCENARIOS.append(
    Scenario(
        name="proxy-1k",
        description="reverse proxy to one fast keep-alive backend (bench/backend.py), 1 KiB",
        nginx_server=NGINX_PROXY,
        nginx_http=NGINX_PROXY_HTTP,
        frontdesk_config=FRONTDESK_PROXY,
        upstream=1,
    )
)

# The same backend process on three ports, as a pool of three: against proxy-1k, the
# cost of choosing a server (the balance core, p2c by default) on the request path.
SCENARIOS.append(
    Scenario(
        name="proxy-1k-pool3",
        description="reverse proxy to a pool of 3 servers (p2c; one backend process, 3 ports)",
        nginx_server=NGINX_PROXY,
        nginx_http=NGINX_PROXY_HTTP.replace(
            "        server 127.0.0.1:{upstream_port};\n",
            "".join(f"        server 127.0.0.1:{{upstream_port{n}}};\n" for n in ("", 2, 3)),
        ),
        frontdesk_config=FRONTDESK_PROXY.replace(
            'servers = ["127.0.0.1:{upstream_port}"]',
            'servers = ["127.0.0.1:{upstream_port}", "127.0.0.1:{upstream_port2}", '
            '"127.0.0.1:{upstream_port3}"]',
        ),
        frontdesk_reference=FRONTDESK_PROXY,
        servers=("nginx", "frontdesk", "frontdesk-1"),
        upstream=3,
    )
)

# Cache hits: nginx proxy_cache on tmpfs, Varnish's malloc store and frontdesk's memory
# tier, all honouring the origin's max-age (no proxy_cache_valid, no VCL).
NGINX_CACHE_HTTP = (
    NGINX_PROXY_HTTP
    + """
    proxy_cache_path {shm}/nginx-cache levels=1:2 keys_zone=bench:8m max_size=64m
                     inactive=60m use_temp_path=off;
"""
)

NGINX_CACHE = """
    location / {
        proxy_pass http://app;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_cache bench;
        add_header X-Cache-Status $upstream_cache_status;
    }
"""

FRONTDESK_CACHE = (
    FRONTDESK_PROXY.replace(
        'proxy = { pool = "app" }\n', 'proxy = { pool = "app" }\ncache = "main"\n'
    )
    + """
[cache.main]
memory = "64MB"
"""
)

SCENARIOS.append(
    Scenario(
        name="cache-hit-1k",
        description="cache hits: a 1 KiB response with max-age=3600 from the backend, "
        "answered from memory by frontdesk, nginx proxy_cache (tmpfs) and Varnish (malloc)",
        nginx_server=NGINX_CACHE,
        nginx_http=NGINX_CACHE_HTTP,
        frontdesk_config=FRONTDESK_CACHE,
        upstream=1,
        upstream_headers=("Cache-Control: max-age=3600",),
        servers=("nginx", "varnish", "frontdesk"),
        cache_hits=True,
    )
)

# HTTPS: nginx as its TLS guides configure it (a shared session cache, tickets on).
NGINX_TLS = (
    """
    ssl_certificate {cert};
    ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:10m;
    ssl_session_timeout 1d;
"""
    + NGINX_FIXED_1K
)

FRONTDESK_TLS = f"""
[server]
listen = [{{ address = "127.0.0.1:{{port}}", tls = true }}]
workers = 1
access_log = "off"

[tls]
cert = "{{cert}}"
key = "{{key}}"

[[route]]
respond = {{ status = 200, body = "{BODY_1K}", headers = {{ "Content-Type" = "text/plain" }} }}
"""

SCENARIOS += [
    Scenario(
        name="tls-fixed-1k",
        description="fixed-1k over HTTPS (TLS 1.3), keep-alive: the record layer's cost",
        nginx_server=NGINX_TLS,
        frontdesk_config=FRONTDESK_TLS,
        tls=True,
    ),
    Scenario(
        name="tls-handshake",
        description="fixed-1k over HTTPS with `Connection: close`: one full TLS 1.3 "
        "handshake per request (wrk keeps no sessions)",
        nginx_server=NGINX_TLS,
        frontdesk_config=FRONTDESK_TLS,
        request=Request(headers=(("Connection", "close"),)),
        tls=True,
    ),
]

BY_NAME: dict[str, Scenario] = {s.name: s for s in SCENARIOS}


def render(template: str, values: dict[str, str]) -> str:
    """Replace `{name}` placeholders for the given names only (TOML braces stay)."""
    for name, value in values.items():
        template = template.replace("{" + name + "}", value)
    return template
