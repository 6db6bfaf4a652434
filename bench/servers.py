"""The two servers under test: how to configure and start each for a scenario."""

from __future__ import annotations

import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import procs
from scenarios import Scenario, render

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
        listen 127.0.0.1:{port};
{server}
    }}
}}
"""

BACKEND = Path(__file__).resolve().with_name("backend.py")


def start_backend(workdir: Path, cpu: int, ports: int = 1) -> tuple[Server, list[int]]:
    """bench/backend.py on `ports` free ports: the upstream of the proxy scenarios."""
    numbers = [procs.free_port() for _ in range(ports)]
    argv = [sys.executable, str(BACKEND), *map(str, numbers)]
    return start("backend", argv, numbers[0], workdir, cpu), numbers


DEFAULT_FRONTDESK_CMD = f"{shlex.quote(sys.executable)} -m frontdesk serve -c {{config}}"


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
    return NGINX_CONF.format(
        workdir=workdir,
        port=port,
        server=render(scenario.nginx_server, values),
        http=render(scenario.nginx_http, values),
    )


def nginx_argv(conf: Path, prefix: Path) -> list[str]:
    """`-e` keeps nginx off /var/log before it has read the config."""
    return ["nginx", "-c", str(conf), "-p", str(prefix), "-e", str(prefix / "nginx-error.log")]


def frontdesk_argv(command: str, conf: Path) -> list[str]:
    """`command` is a shell-style string whose `{config}` is the TOML file's path."""
    return [arg.replace("{config}", str(conf)) for arg in shlex.split(command)]


def start(name: str, argv: list[str], port: int, workdir: Path, cpu: int) -> Server:
    log = workdir / f"{name}.log"
    proc = procs.launch(procs.pinned(cpu, argv), log)
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
    return start("nginx", nginx_argv(conf, workdir), port, workdir, cpu)


def start_frontdesk(
    scenario: Scenario, workdir: Path, cpu: int, command: str, extra: dict[str, str] | None = None
) -> Server:
    port = procs.free_port()
    values = {"port": str(port), "workdir": str(workdir), **(extra or {})}
    conf = workdir / "frontdesk.toml"
    conf.write_text(render(scenario.frontdesk_config, values))
    return start("frontdesk", frontdesk_argv(command, conf), port, workdir, cpu)
