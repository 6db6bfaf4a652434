"""The admin API against a running server: every answer validated against the OpenAPI
document in the package (openapi-core), the actions (drain / enable / disable, purge,
reload), the token on a TCP listener, and /metrics parsed by prometheus_client."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from proc_helpers import free_port
from prometheus_client.parser import text_string_to_metric_families

from frontdesk.admin.api import openapi_document

if TYPE_CHECKING:
    # Only a type: "conftest" names the browser tests' module too when both run.
    from conftest import Backend

STDLIB_APP = Path(__file__).with_name("apps") / "stdlib_app.py"

TOKEN = "s3cret-token-0123456789"


@pytest.fixture(scope="module")
def spec() -> OpenAPI:
    return OpenAPI.from_dict(openapi_document())


class Admin:
    """A client of one server's admin API that validates every answer."""

    def __init__(self, port: int, spec: OpenAPI, token: str = "") -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.spec = spec
        self.token = token

    def raw(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> tuple[int, str, bytes]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        given = self.token if token is None else token
        if given:
            req.add_header("Authorization", f"Bearer {given}")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, resp.headers["Content-Type"], resp.read()
        except urllib.error.HTTPError as err:
            with err:
                return err.code, err.headers["Content-Type"], err.read()

    def call(self, method: str, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        status, ctype, data = self.raw(method, path, body, **kw)
        path_only, _, query = path.partition("?")
        request = MockRequest(
            self.base,
            method.lower(),
            path_only,
            args=dict(p.partition("=")[::2] for p in query.split("&") if p),
            data=None if body is None else json.dumps(body).encode(),
            content_type="application/json",
        )
        self.spec.validate_response(
            request, MockResponse(data=data, status_code=status, content_type=ctype)
        )
        return status, json.loads(data) if ctype == "application/json" else data


def config(port: int, admin_port: int, a: Backend, b: Backend, token: str = "") -> str:
    return f"""
[server]
listen = ["127.0.0.1:{port}"]
workers = 2
access_log = "off"

[admin]
listen = "127.0.0.1:{admin_port}"
token = "{token}"

[[route]]
name = "health"
match = {{ exact = "/healthz" }}
respond = {{ status = 200, body = "ok" }}

[[route]]
name = "web"
match = {{ path = "/web/" }}
proxy = {{ pool = "web", strip_prefix = "/web" }}

[app.web]
command = ["{sys.executable}", "{STDLIB_APP}"]
instances = 1
stop_timeout = "5s"

[[route]]
name = "app"
match = {{ path = "/" }}
proxy = {{ pool = "app" }}
cache = "main"

[pool.app]
servers = ["{a.address}", "{b.address}"]
health = {{ path = "/healthz", interval = "300ms", timeout = "250ms", fall = 1, rise = 1 }}

[cache.main]
memory = "8MB"
"""


@pytest.fixture(scope="module")
def running(
    tmp_path_factory: pytest.TempPathFactory, backends: Callable[..., Backend], spec: OpenAPI
) -> Iterator[tuple[Any, Admin, Backend, Backend]]:
    from proc_helpers import start_server

    a, b = backends("a"), backends("b")
    port, admin_port = free_port(), free_port()
    tmp = tmp_path_factory.mktemp("admin")
    srv = start_server(tmp, config(port, admin_port, a, b, TOKEN), port)
    admin = Admin(admin_port, spec, TOKEN)
    deadline = time.monotonic() + 30
    while [r["state"] for r in admin.call("GET", "/apps")[1]["apps"]] != ["ready"]:
        assert time.monotonic() < deadline, "the app never got ready"
        time.sleep(0.1)
    yield srv, admin, a, b
    srv.terminate()


def traffic(port: int, n: int = 20) -> None:
    for i in range(n):
        for path in ("/healthz", f"/echo?i={i % 3}", f"/c/x{i % 3}?cc=max-age%3D60"):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                r.read()


def test_every_read_endpoint_matches_the_openapi_document(running: Any) -> None:
    srv, admin, a, b = running
    traffic(srv.port)
    for path in ("/", "/status", "/status?counters", "/pools", "/caches", "/routes"):
        status, _ = admin.call("GET", path)
        assert status == 200, path
    for path in ("/config", "/apps", "/openapi.json"):
        assert admin.call("GET", path)[0] == 200, path
    _, status = admin.call("GET", "/status?counters")
    assert status["traffic"]["requests"] >= 40
    assert status["traffic"]["by_class"]["2xx"] >= 40
    routes = {r[0] for r in status["counters"]["requests"]}
    assert {"health", "app"} <= routes
    (instance,) = status["apps"]
    assert instance["app"] == "web" and instance["state"] == "ready"
    pool = next(p for p in status["pools"] if p["pool"] == "app")
    servers = {s["server"]: s for s in pool["servers"]}
    assert set(servers) == {a.address, b.address}
    assert all(s["last_check"] is not None and s["last_check"]["passed"] for s in servers.values())
    assert any(s["latency_ewma"] > 0 for s in servers.values())
    (cache,) = status["caches"]
    assert cache["hits"] > 0 and 0 < cache["hit_ratio"] < 1
    _, routes_answer = admin.call("GET", "/routes")
    assert [r["name"] for r in routes_answer["routes"]] == ["health", "web", "app"]
    assert routes_answer["routes"][2]["pool"] == "app"
    assert admin.call("GET", "/config")[1]["generation"] == 1
    for path in ("/ui", "/ui/status.js", "/ui/status.css", "/metrics"):
        assert admin.call("GET", path)[0] == 200, path


def test_errors_match_the_document(running: Any) -> None:
    _, admin, _, _ = running
    assert admin.call("GET", "/ui/secrets.txt")[0] == 404
    assert admin.call("POST", "/pools/nope/drain", {"server": "x"})[0] == 404
    assert admin.call("POST", "/pools/app/drain", {"srv": 1})[0] == 400
    assert admin.call("POST", "/cache/purge", {})[0] == 400


def test_tcp_listener_needs_the_token(running: Any) -> None:
    _, admin, _, _ = running
    for wrong in ("", "nope", TOKEN[:-1], TOKEN + "x"):
        status, body = admin.call("GET", "/status", token=wrong)
        assert status == 401, wrong
        assert "Bearer" in body["error"]
    # the status page's URL may carry it (a browser cannot send the header)
    assert admin.raw("GET", f"/ui?token={TOKEN}", token="")[0] == 200
    assert admin.raw("GET", "/ui?token=wrong", token="")[0] == 401
    # The page's script and stylesheet are loaded without it (they hold no data).
    assert admin.raw("GET", "/ui/status.js", token="")[0] == 200


def test_drain_disable_enable(running: Any) -> None:
    _, admin, a, _ = running
    for action, state in (("drain", "drain"), ("disable", "disabled"), ("enable", "active")):
        status, body = admin.call("POST", f"/pools/app/{action}", {"server": a.address})
        assert status == 200 and body["state"] == state
        _, pools = admin.call("GET", "/pools")
        pool = next(p for p in pools["pools"] if p["pool"] == "app")
        row = next(s for s in pool["servers"] if s["server"] == a.address)
        assert row["admin"] == state


def test_purge(running: Any) -> None:
    srv, admin, _, _ = running
    traffic(srv.port, 3)
    status, body = admin.call("POST", "/cache/purge", {"prefix": "http://127.0.0.1/"})
    assert status == 200 and body["workers"] == 2


def test_metrics_over_all_workers(running: Any) -> None:
    srv, admin, a, b = running
    _, before = admin.call("GET", "/status")
    traffic(srv.port, 10)
    status, text = admin.call("GET", "/metrics")
    families = {f.name: f for f in text_string_to_metric_families(text.decode())}
    requests = families["frontdesk_requests"]
    total = sum(s.value for s in requests.samples if s.name == "frontdesk_requests_total")
    assert total >= before["traffic"]["requests"] + 20
    health = [
        s
        for s in requests.samples
        if s.name == "frontdesk_requests_total" and s.labels["route"] == "health"
    ]
    assert health and all(s.labels["status"] == "2xx" for s in health)
    assert "frontdesk_request_duration_seconds" in families
    up = {
        s.labels["server"]: s.value
        for s in families["frontdesk_upstream_up"].samples
        if s.labels["pool"] == "app"
    }
    assert up == {a.address: 1.0, b.address: 1.0}
    responses = families["frontdesk_upstream_responses"].samples
    assert sum(s.value for s in responses) > 0
    lookups = families["frontdesk_cache_lookups"].samples
    assert any(s.labels["result"] == "hit" and s.value > 0 for s in lookups)
    assert families["frontdesk_workers"].samples[0].value == 2


def test_reload(running: Any) -> None:
    srv, admin, _, _ = running
    _, before = admin.call("GET", "/config")
    status, body = admin.call("POST", "/reload")
    assert status == 200 and body["generation"] == before["generation"] + 1
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        _, st = admin.call("GET", "/status")
        if all(w["generation"] == body["generation"] for w in st["workers"]):
            break
        time.sleep(0.1)
    assert {w["generation"] for w in st["workers"]} == {body["generation"]}


def test_check_refuses_a_public_admin_listener_without_a_token(tmp_path: Path) -> None:
    cfg = tmp_path / "public.toml"
    cfg.write_text('[admin]\nlisten = "0.0.0.0:9901"\n')
    done = check(cfg)
    assert done.returncode == 2
    assert f"{cfg}:2: admin.listen: " in done.stderr and "admin.token" in done.stderr
    cfg.write_text(f'[admin]\nlisten = "0.0.0.0:9901"\ntoken = "{TOKEN}"\n')
    assert check(cfg).returncode == 0


def check(cfg: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "frontdesk", "check", "-c", str(cfg)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30)


def test_restart_an_app(running: Any) -> None:
    srv, admin, _, _ = running
    (before,) = admin.call("GET", "/apps")[1]["apps"]
    status, body = admin.call("POST", "/apps/web/restart")
    assert status == 200 and body["app"] == "web"
    (after,) = [r for r in body["instances"] if r["state"] == "ready"]
    assert after["pid"] != before["pid"]
    with urllib.request.urlopen(f"http://127.0.0.1:{srv.port}/web/", timeout=5) as r:
        assert r.status == 200
    assert admin.call("POST", "/apps/nope/restart")[0] == 404
    _, text = admin.call("GET", "/metrics")
    families = {f.name: f for f in text_string_to_metric_families(text.decode())}
    (ready,) = families["frontdesk_app_instances_ready"].samples
    assert ready.labels["app"] == "web" and ready.value == 1
    assert "frontdesk_app_restarts" in families


def test_frontdesk_status_in_a_terminal(running: Any) -> None:
    srv, _, a, _ = running
    assert srv.config is not None
    traffic(srv.port, 5)
    cmd = [sys.executable, "-m", "frontdesk", "status", "-c", str(srv.config)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert re.search(r"^traffic: \d+ requests  2xx \d+.*p50 [\d.]+ ms  p99 [\d.]+ ms$", out, re.M)
    assert "pool app (p2c)" in out and a.address in out
    assert re.search(r"^cache main: \d+ hits", out, re.M)
    assert re.search(r"^memory\s+\d+\s+[\d.]+ (KB|MB)\s+[\d.]+%\s+\d+\s+up$", out, re.M)
    assert re.search(r"^web\.\d+\s+\d+\s+ready", out, re.M)
    as_json = json.loads(subprocess.run([*cmd, "--json"], capture_output=True, timeout=30).stdout)
    assert as_json["traffic"]["requests"] > 0
    # --watch redraws in place until Ctrl-C
    watch = subprocess.Popen([*cmd, "--watch", "0.3"], stdout=subprocess.PIPE)
    assert watch.stdout is not None
    seen = b""
    deadline = time.monotonic() + 30
    try:
        while seen.count(b"traffic: ") < 2 and time.monotonic() < deadline:
            if select.select([watch.stdout], [], [], 1.0)[0]:
                seen += os.read(watch.stdout.fileno(), 65536)
        watch.send_signal(signal.SIGINT)
        rest, _ = watch.communicate(timeout=30)
    finally:  # never leave it running into the next test
        if watch.poll() is None:
            watch.kill()
            watch.communicate()
    assert watch.returncode == 0
    text = (seen + rest).decode()
    assert text.count("\x1b[H\x1b[2J") >= 2 and text.count("traffic: ") >= 2
