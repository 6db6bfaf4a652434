"""`frontdesk explain` against the running server, on the README's examples.

Every ```toml block of README.md with routes, and every examples/*/frontdesk.toml the
README names, is run as it is written, with only what cannot run here replaced: the
listen address, backend addresses (one live backend), static roots (made), htpasswd
files (made, one user), the disk and Redis tiers (dropped), apps (their pool gets the
backend). For each route a request is made from its match (and one that matches no
route); explain's verdict is compared with what the server did, read from its JSON
access log: the route, and for proxied routes the backend and the target the backend
received.

A route behind an access rule is asked twice: without credentials, the status must be
the one explain names for the first check that refuses such a request; with
everything the rule asks for (an allowed address through X-Forwarded-For, the user,
a signed URL), the route's action must answer. A rate-limited route is asked past its
burst: the 429 explain announces must come."""

from __future__ import annotations

import base64
import ipaddress
import json
import re
import socket
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from frontdesk import sign_url
from frontdesk.admin.explain import Explanation, explain, parse_request
from frontdesk.config.load import load_text

if TYPE_CHECKING:
    # Only a type: "conftest" names the browser tests' module too when both run.
    from conftest import Backend

README = Path(__file__).resolve().parents[2] / "README.md"
# The one user of the htpasswd files made for the examples' rules.
PROBE_USER = "Basic " + base64.b64encode(b"probe:probe").decode()


def blocks() -> list[dict[str, Any]]:
    text = README.read_text()
    found = [tomllib.loads(b) for b in re.findall(r"```toml\n(.*?)```", text, re.S)]
    named = sorted(set(re.findall(r"examples/([\w-]+)", text)))
    for name in named:  # the example apps' own configs
        cfg = README.parent / "examples" / name / "frontdesk.toml"
        if cfg.exists():
            found.append(tomllib.loads(cfg.read_text()))
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
    if any(r.get("allow") or r.get("deny") for r in block.get("access", {}).values()):
        # The probes claim their addresses through X-Forwarded-For from 127.0.0.1.
        keep["trusted_proxies"] = [*keep.get("trusted_proxies", []), "127.0.0.1"]
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
    labels = [r.name or f"route[{i}]" for i, r in enumerate(config.routes)]
    probed = set()
    for n, (line, headers) in enumerate(probes(block)):
        said = explain(config, parse_request(line, headers))
        if n < len(labels):
            probed.add(said.route)
        route = config.routes[said.index] if said.index is not None else None
        if route is not None and route.access_name is not None:
            # Without credentials: the refusal explain names for the first check that
            # refuses this request.
            status, _ = same(srv, log, line, headers, said, backend)
            assert status == refusal(said, config.access_rule(route.access_name)), (line, said)
            line, headers = allowed(line, headers, config.access_rule(route.access_name))
            said = explain(config, parse_request(line, headers))
        status, body = same(srv, log, line, headers, said, backend)
        if said.route is None:
            assert status == 404
        elif said.action.startswith(("static", "respond")):
            assert status == 200, (line, said.action)
        elif said.action.startswith("redirect"):
            assert status == int(said.action.split()[1]), (line, said.action)
        if said.proxy is not None:
            assert status == 200, (line, body[:200])
            echoed = json.loads(body)
            assert echoed["target"] == said.proxy["upstream_target"], (line, said.proxy)
        if route is not None and route.rate_limit is not None:
            over_the_limit(srv.port, line, headers, said, route.rate_limit.capacity)
    assert probed == set(labels), "a route of the example was never reached"


def same(
    srv: Any, log: Path, line: str, headers: list[str], said: Explanation, backend: Backend
) -> tuple[int, bytes]:
    """Send the request explain was asked about; the server took the route explain
    named, and (proxied) the backend it named."""
    status, body = send(srv.port, line, headers)
    entry = log_entry(log, "?" + line.rpartition("?")[2])
    assert entry["route"] == (said.route or "-"), (line, said.tried, entry)
    if said.proxy is not None and status == 200:
        assert entry["upstream"] == backend.address
        assert entry["upstream_ttfb_ms"] is not None and entry["request_id"]
        echoed = json.loads(body)
        request_ids = [v for k, v in echoed["headers"] if k.lower() == "x-request-id"]
        assert request_ids == [entry["request_id"]]
    return status, body


def refusal(said: Explanation, rule: Any) -> int:
    """The status explain names for the first of the rule's checks (in the guard's
    order, which explain prints) that refuses a request from 127.0.0.1 carrying no
    credentials."""
    for text in said.layers["access"][1:]:
        if text.startswith("client address"):
            me = ipaddress.ip_address("127.0.0.1")
            allowed = not rule.allow or any(me in ipaddress.ip_network(n) for n in rule.allow)
            if allowed and not any(me in ipaddress.ip_network(n) for n in rule.deny):
                continue
            return int(re.search(r"refused: (\d{3})", text).group(1))  # type: ignore[union-attr]
        if text.startswith("signed URL"):
            return int(re.search(r"missing: (\d{3})", text).group(1))  # type: ignore[union-attr]
        if text.startswith("Basic auth"):
            return int(re.search(r"credentials: (\d{3})", text).group(1))  # type: ignore[union-attr]
    raise AssertionError(f"explain names no refusal for {said.layers}")


def allowed(line: str, headers: list[str], rule: Any) -> tuple[str, list[str]]:
    """The same request with everything `rule` asks for (and a probe of its own)."""
    method, url = line.split()
    url = url.replace("?probe=", "?probe=ok")
    headers = list(headers)
    if rule.allow:
        network = ipaddress.ip_network(str(rule.allow[0]))
        headers.append(
            f"X-Forwarded-For: {network[1] if network.num_addresses > 1 else network[0]}"
        )
    if rule.htpasswd is not None:
        headers.append(f"Authorization: {PROBE_USER}")
    if rule.signed is not None:
        scheme, _, rest = url.partition("://")
        host, _, target = rest.partition("/")
        url = f"{scheme}://{host}" + sign_url("/" + target, rule.signed.keys[0], 600)
    return f"{method} {url}", headers


def over_the_limit(port: int, line: str, headers: list[str], said: Explanation, burst: int) -> None:
    """Past the burst on one connection: the 429 explain announces, with its policy."""
    assert "over it: 429" in said.layers["rate limit"][0]
    method, url = line.split()
    _, _, rest = url.partition("://")
    host, _, target = rest.partition("/")
    head = f"{method} /{target} HTTP/1.1\r\nHost: {host}\r\n"
    head += "".join(f"{h}\r\n" for h in headers) + "\r\n"
    statuses = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(head.encode() * (3 * burst))  # pipelined: faster than any refill
        data = b""
        while data.count(b"HTTP/1.1 ") < 3 * burst:
            chunk = s.recv(65536)
            assert chunk, data[-300:]
            data += chunk
    statuses = [int(m) for m in re.findall(rb"HTTP/1\.1 (\d{3}) ", data)]
    assert 429 in statuses and statuses.index(429) >= burst - 1, statuses
    assert f"q={burst}".encode() in data


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
