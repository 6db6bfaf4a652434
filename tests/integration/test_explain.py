"""`frontdesk explain` against the running server, on the README's examples.

Every ```toml block of README.md with routes is run as it is written, with only what
cannot run here replaced: the listen address, backend addresses (one live backend),
static roots (made), the disk and Redis tiers (dropped). For each route a request is
made from its match (and one that matches no route); explain's verdict is compared
with what the server did, read from its JSON access log: the route, and for proxied
routes the backend and the target the backend received."""

from __future__ import annotations

import json
import re
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from frontdesk.admin.explain import explain, parse_request
from frontdesk.config.load import load_text

if TYPE_CHECKING:
    # Only a type: "conftest" names the browser tests' module too when both run.
    from conftest import Backend

README = Path(__file__).resolve().parents[2] / "README.md"


def blocks() -> list[dict[str, Any]]:
    text = README.read_text()
    found = [tomllib.loads(b) for b in re.findall(r"```toml\n(.*?)```", text, re.S)]
    return [b for b in found if b.get("route")]


def toml(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value)


def table(header: str, keys: dict[str, Any]) -> str:
    return header + "\n" + "".join(f"{json.dumps(k)} = {toml(v)}\n" for k, v in keys.items())


def runnable(block: dict[str, Any], backend: str, root: Path) -> tuple[str, dict[str, Any]]:
    """(the block without [server], as TOML; the [server] keys to keep)."""
    out: list[str] = []
    for route in block["route"]:
        static = route.get("static")
        if static is not None:  # a made directory with a file the probes ask for
            d = root / static["root"]
            d.mkdir(parents=True, exist_ok=True)
            route = {**route, "static": {**static, "root": str(d)}}
            (d / "index.html").write_text("<p>index</p>")
            (d / "probe").write_text("probe")
        out.append(table("[[route]]", route))
    pools = dict(block.get("pool", {}))
    for route in block["route"]:  # a fragment that names a pool it does not define
        if "proxy" in route:
            pools.setdefault(route["proxy"]["pool"], {})
    for name, pool in pools.items():
        out.append(table(f"[pool.{name}]", {**pool, "servers": [backend]}))
    for name, cache in block.get("cache", {}).items():
        cache = {k: v for k, v in cache.items() if k not in ("disk", "redis")} | {"memory": "4MB"}
        out.append(table(f"[cache.{name}]", cache))
    for name, rule in block.get("access", {}).items():
        if "htpasswd" in rule:  # a made file with one user
            from frontdesk.access.htpasswd import hash_password

            users = root / f"{name}.htpasswd"
            users.write_text(f"probe:{hash_password(b'probe', rounds=4)}\n")
            rule = {**rule, "htpasswd": str(users)}
        out.append(table(f"[access.{name}]", rule))
    keep = {k: v for k, v in block.get("server", {}).items() if k == "trusted_proxies"}
    return "\n".join(out), keep


def probes(block: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """A request aimed at each route (from its match), and one that none matches."""
    out = []
    for route in block["route"]:
        m = route.get("match", {})
        hosts = m.get("host", [])
        hosts = hosts if isinstance(hosts, list) else [hosts]
        host_name = hosts[0].replace("*.", "www.") if hosts else "site.test"
        methods = m.get("method", [])
        methods = methods if isinstance(methods, list) else [methods]
        tail = "echo" if "proxy" in route else "probe"
        path = m.get("exact") or (m.get("path", "/") + tail)
        headers = [f"{k}: {'x' if v == '*' else v}" for k, v in m.get("header", {}).items()]
        n = len(out)
        line = f"{methods[0] if methods else 'GET'} http://{host_name}{path}?probe={n}"
        out.append((line, headers))
    out.append((f"GET http://nowhere.test/zz-none?probe={len(out)}", []))
    return out


def send(port: int, line: str, headers: list[str]) -> tuple[int, bytes]:
    import socket

    method, url = line.split()
    _, _, rest = url.partition("://")
    host, _, target = rest.partition("/")
    head = f"{method} /{target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
    head += "".join(f"{h}\r\n" for h in headers) + "\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(head.encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data.partition(b"\r\n\r\n")[2]


def log_entry(path: Path, probe: str) -> dict[str, Any]:
    """The access-log line of the request whose query is `probe` (waits for the flush)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for x in path.read_text().splitlines():
            entry = json.loads(x)
            if entry["uri"].endswith(probe):
                return dict(entry)
        time.sleep(0.05)
    raise AssertionError(f"no access-log line for {probe} in {path}")


@pytest.mark.parametrize("index", range(len(blocks())))
def test_explain_matches_the_server_on_the_readme_examples(
    index: int, server: Callable[..., Any], backends: Callable[..., Backend], tmp_path: Path
) -> None:
    block = blocks()[index]
    backend = backends(f"explain{index}")
    routes, keep = runnable(block, backend.address, tmp_path)
    log = tmp_path / "access.json"
    srv = server(routes, access_log=str(log), access_log_format="json", **keep)
    config = load_text(srv.config_path.read_text(), str(srv.config_path))
    # Routes behind an access rule may refuse the probe (explain reports their rules).
    guarded = {
        r.get("name") or f"route[{i}]"
        for i, r in enumerate(block["route"])
        if "access" in r or "auth" in r
    }
    for line, headers in probes(block):
        said = explain(config, parse_request(line, headers))
        status, body = send(srv.port, line, headers)
        entry = log_entry(log, "?" + line.rpartition("?")[2])
        assert entry["route"] == (said.route or "-"), (line, said.tried, entry)
        if said.route is None:
            assert status == 404
        elif said.route in guarded:
            assert status in (200, 401, 403), (line, said.action)
        elif said.action.startswith(("static", "respond")):
            assert status == 200, (line, said.action)
        elif said.action.startswith("redirect"):
            assert status == int(said.action.split()[1]), (line, said.action)
        if said.proxy is not None:
            assert status == 200, (line, body[:200])
            assert entry["upstream"] == backend.address
            assert entry["upstream_ttfb_ms"] is not None and entry["request_id"]
            echoed = json.loads(body)
            assert echoed["target"] == said.proxy["upstream_target"], (line, said.proxy)
            request_ids = [v for k, v in echoed["headers"] if k.lower() == "x-request-id"]
            assert request_ids == [entry["request_id"]]


def test_explain_cli(tmp_path: Path) -> None:
    import subprocess
    import sys

    cfg = tmp_path / "f.toml"
    cfg.write_text(
        """
[[route]]
name = "health"
match = { exact = "/healthz" }
respond = { status = 200, body = "ok" }

[[route]]
name = "api"
match = { path = "/api/", header = { "X-Tenant" = "*" } }
proxy = { pool = "app", strip_prefix = "/api" }
cache = "main"

[pool.app]
servers = ["127.0.0.1:9001", "127.0.0.1:9002"]
balance = "hash"
hash = "header:X-Tenant"

[cache.main]
key = { ignore_params = ["utm_*"] }
"""
    )

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "frontdesk", "explain", *args, "-c", str(cfg)]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30)

    done = run("GET https://example.com/api/v?utm_a=1&x=2", "-H", "X-Tenant: t1")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "no    health: not: path is exactly /healthz" in out
    assert "MATCH api: path starts with /api/; header x-tenant is present" in out
    assert "cache main: key http://example.com/v?x=2" in out
    assert "pool app: hash on header:X-Tenant" in out
    assert "forwarded as: GET /v?x=2" in out
    missing = run("GET https://example.com/api/v")  # no X-Tenant: the header condition fails
    assert "no    api: not: header x-tenant is present" in missing.stdout
    assert "no route matches: 404" in missing.stdout
    as_json = json.loads(run("POST http://example.com/healthz", "--json").stdout)
    assert as_json["route"] == "health" and as_json["action"].startswith("respond: 200")
    bad = run("GET not-a-url")
    assert bad.returncode == 2 and "explain: expected an absolute" in bad.stderr
