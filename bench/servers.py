"""The servers under test (nginx, frontdesk, Varnish): how to configure and start each."""

from __future__ import annotations

import argparse
import http.client
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import procs
from scenarios import NGINX_FIXED_1K, Scenario, render

NGINX_CONF = """\
worker_processes 1;
daemon off;
master_process on;
user root;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log warn;

events {{
    worker_connections 4096;
}}

http {{
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    client_body_temp_path {workdir}/client_body;
    proxy_temp_path {workdir}/proxy;
    fastcgi_temp_path {workdir}/fastcgi;
    uwsgi_temp_path {workdir}/uwsgi;
    scgi_temp_path {workdir}/scgi;
{http}

    server {{
        listen 127.0.0.1:{port}{listen_ssl};
{server}
    }}
}}
"""

BACKEND = Path(__file__).resolve().with_name("backend.py")


def start_backend(
    workdir: Path, cpu: int, ports: int = 1, headers: tuple[str, ...] = ()
) -> tuple[Server, list[int]]:
    """bench/backend.py on `ports` free ports: the upstream of the proxy scenarios."""
    numbers = [procs.free_port() for _ in range(ports)]
    argv = [sys.executable, str(BACKEND)]
    for line in headers:
        argv += ["--header", line]
    argv += map(str, numbers)
    return start("backend", argv, numbers[0], workdir, cpu), numbers


ORIGIN_STATUS = "/.bench-origin-status"
"""The nginx origin's stub_status: its `accepts` counter is how many connections the
proxy under test opened to it (origin_accepts)."""


def start_nginx_origin(workdir: Path, cpu: int) -> tuple[Server, list[int]]:
    """nginx answering 1 KiB on a free port: the fast origin of the scenarios that
    measure the proxy itself (bench/backend.py is a Python server, slower than both)."""
    port = procs.free_port()
    conf = workdir / "origin.conf"
    status = f"    location = {ORIGIN_STATUS} {{\n        stub_status;\n    }}\n"
    conf.write_text(nginx_conf_text(NGINX_FIXED_1K + status, "", port, workdir, {}))
    return start("origin", nginx_argv(conf, workdir), port, workdir, cpu), [port]


def origin_accepts(port: int) -> int:
    """Connections the nginx origin has accepted so far, this request's own included."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", ORIGIN_STATUS)
        # "Active connections: N \nserver accepts handled requests\n A H R \n..."
        return int(conn.getresponse().read().split(b"\n")[2].split()[0])
    finally:
        conn.close()


DEFAULT_FRONTDESK_CMD = f"{shlex.quote(sys.executable)} -m frontdesk serve -c {{config}}"


def add_frontdesk_cmd(parser: argparse.ArgumentParser) -> None:
    """`--frontdesk-cmd`: any stand-in for frontdesk can be measured the same way."""
    parser.add_argument(
        "--frontdesk-cmd",
        default=DEFAULT_FRONTDESK_CMD,
        help="command starting frontdesk; {config} is the TOML path (default: %(default)s)",
    )


@dataclass
class Server:
    """One running server: its name, port and process (a group leader)."""

    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path


def nginx_conf(
    scenario: Scenario, port: int, workdir: Path, extra: dict[str, str] | None = None
) -> str:
    values = {"port": str(port), "workdir": str(workdir), **(extra or {})}
    return nginx_conf_text(
        scenario.nginx_server, scenario.nginx_http, port, workdir, values, scenario.http2
    )


def nginx_conf_text(
    server: str, http: str, port: int, workdir: Path, values: dict[str, str], http2: bool = False
) -> str:
    """The whole nginx.conf around a `server { }` body and `http { }` extras."""
    return NGINX_CONF.format(
        workdir=workdir,
        port=port,
        listen_ssl=(" ssl" if "cert" in values else "") + (" http2" if http2 else ""),
        server=render(server, values),
        http=render(http, values),
    )


def varnish_argv(port: int, backend: int, workdir: Path, params: tuple[str, ...] = ()) -> list[str]:
    """varnishd in the foreground with the built-in VCL and `backend` as its origin.

    `-n` keeps its working directory (shared memory log, compiled VCL) in `workdir`, so
    runs never meet each other or a system instance; `-s malloc,64m` a memory store."""
    argv = ["varnishd", "-F", "-a", f"127.0.0.1:{port}", "-b", f"127.0.0.1:{backend}"]
    argv += ["-s", "malloc,64m", "-n", str(workdir / "varnish")]
    for param in params:
        argv += ["-p", param]
    return argv


# One thread pool on one core; threads for the 64 client connections and the backend
# ones made at start rather than while measuring (Varnish runs a thread per connection).
VARNISH_BENCH_PARAMS = ("thread_pools=1", "thread_pool_min=200", "thread_pool_max=1000")


def start_varnish(workdir: Path, cpu: int, extra: dict[str, str]) -> Server:
    """Varnish in front of the scenario's backend ({upstream_port}), pinned like the others."""
    port = procs.free_port()
    argv = varnish_argv(port, int(extra["upstream_port"]), workdir, VARNISH_BENCH_PARAMS)
    return start("varnish", argv, port, workdir, cpu)


def is_cache_hit(name: str, fields: dict[str, str]) -> bool:
    """Whether a response (fields by lower-case name) came from that server's cache."""
    if name == "nginx":  # add_header X-Cache-Status $upstream_cache_status
        return fields.get("x-cache-status") == "HIT"
    if name == "varnish":  # X-Varnish: the request's id, and on a hit the object's
        return len(fields.get("x-varnish", "").split()) == 2
    # RFC 9211: `frontdesk; hit` (a forwarded one has fwd=...)
    members = fields.get("cache-status", "").split(",")
    return any("hit" in (p.strip() for p in m.split(";")[1:]) for m in members)


def version(name: str) -> str:
    """The version banner of nginx or varnishd; frontdesk's own package version."""
    argv = {
        "nginx": ["nginx", "-v"],
        "varnish": ["varnishd", "-V"],
        "frontdesk": [sys.executable, "-m", "frontdesk", "--version"],
    }[name]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return "unknown"
    text = (done.stderr + done.stdout).strip()
    return text.splitlines()[0] if text else "unknown"


def nginx_argv(conf: Path, prefix: Path) -> list[str]:
    """`-e` keeps nginx off /var/log before it has read the config."""
    return ["nginx", "-c", str(conf), "-p", str(prefix), "-e", str(prefix / "nginx-error.log")]


def frontdesk_argv(command: str, conf: Path) -> list[str]:
    """`command` is a shell-style string whose `{config}` is the TOML file's path."""
    return [arg.replace("{config}", str(conf)) for arg in shlex.split(command)]


def start(
    name: str,
    argv: list[str],
    port: int,
    workdir: Path,
    cpu: int | None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    tls: bool = False,
) -> Server:
    """Launch (pinned to `cpu` unless None) and wait until the port answers HTTP."""
    log = workdir / f"{name}.log"
    if tls:
        procs.TLS_PORTS.add(port)
    proc = procs.launch(argv if cpu is None else procs.pinned(cpu, argv), log, cwd, env)
    server = Server(name, port, proc, log)
    try:
        procs.wait_http(proc, port, log)
    except BaseException:
        procs.stop(proc)
        raise
    return server


def start_nginx(
    scenario: Scenario, workdir: Path, cpu: int, extra: dict[str, str] | None = None
) -> Server:
    port = procs.free_port()
    conf = workdir / "nginx.conf"
    conf.write_text(nginx_conf(scenario, port, workdir, extra))
    return start("nginx", nginx_argv(conf, workdir), port, workdir, cpu, tls=scenario.tls)


FLOOR = Path(__file__).resolve().with_name("floor.py")
PROXY_FLOOR = FLOOR.with_name("proxy_floor.py")


def start_floor(
    scenario: Scenario,
    workdir: Path,
    cpu: int,
    scan: bool = False,
    extra: dict[str, str] | None = None,
) -> Server:
    """bench/floor.py on the scenario's frontdesk config (a fixed-body scenario's), or
    bench/proxy_floor.py on a proxy scenario's; `scan`: with the least check of the
    fields (server "floor-scan")."""
    port = procs.free_port()
    conf = workdir / "floor.toml"
    values = {"port": str(port), "workdir": str(workdir), **(extra or {})}
    conf.write_text(render(scenario.frontdesk_config, values))
    script = PROXY_FLOOR if scenario.upstream else FLOOR
    argv = [sys.executable, str(script), "-c", str(conf), *(["--scan"] if scan else [])]
    name = "floor-scan" if scan else "floor"
    return start(name, argv, port, workdir, cpu, tls=scenario.tls)


def start_frontdesk(
    scenario: Scenario,
    workdir: Path,
    cpu: int,
    command: str,
    extra: dict[str, str] | None = None,
    name: str = "frontdesk",
) -> Server:
    """frontdesk on the scenario's config; `name` "frontdesk-1" runs its reference
    config instead (Scenario.frontdesk_reference)."""
    port = procs.free_port()
    values = {"port": str(port), "workdir": str(workdir), **(extra or {})}
    conf = workdir / "frontdesk.toml"
    text = scenario.frontdesk_reference if name == "frontdesk-1" else scenario.frontdesk_config
    conf.write_text(render(text, values))
    return start(name, frontdesk_argv(command, conf), port, workdir, cpu, tls=scenario.tls)
