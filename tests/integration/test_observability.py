"""Request ids, traceparent, the JSON access log's fields and error-log lines that say
what to do, against a real backend."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # Only a type: "conftest" names the browser tests' module too when both run.
    from conftest import Backend


TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def request(
    port: int, target: str, headers: dict[str, str], source: str = "127.0.0.1"
) -> tuple[int, bytes]:
    """One request from `source` (another loopback address: another client)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0)) as s:
        head = f"GET {target} HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n"
        s.sendall((head + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"transfer-encoding" not in head.lower()  # the echo answers with a length
    return int(head.split(b" ", 2)[1]), body


def log_entry(path: Path, marker: str) -> dict[str, Any]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for line in path.read_text().splitlines():
            entry = json.loads(line)
            if marker in entry["uri"]:
                return dict(entry)
        time.sleep(0.05)
    raise AssertionError(f"no access-log line for {marker}")


def test_request_ids_traceparent_and_the_json_access_log(
    server: Callable[..., Any], backends: Callable[..., Backend], tmp_path: Path
) -> None:
    b = backends("obs")
    log = tmp_path / "access.json"
    srv = server(
        f"""
[[route]]
name = "api"
proxy = {{ pool = "app" }}

[pool.app]
servers = ["{b.address}"]
""",
        access_log=str(log),
        access_log_format="json",
        trusted_proxies=["127.0.0.2/32"],
    )
    sent = {"X-Request-ID": "from-a-balancer", "traceparent": TRACEPARENT}
    # an untrusted client's id is replaced; the backend and the log get the same one
    _, body = request(srv.port, "/echo?n=1", sent)
    echoed = {k.lower(): v for k, v in json.loads(body)["headers"]}
    entry = log_entry(log, "n=1")
    assert echoed["x-request-id"] != "from-a-balancer"
    assert entry["request_id"] == echoed["x-request-id"]
    assert echoed["traceparent"] == TRACEPARENT  # W3C trace context passed unchanged
    assert entry["route"] == "api" and entry["upstream"] == b.address
    assert 0 <= entry["upstream_ttfb_ms"] <= entry["duration_ms"]
    # a trusted proxy's id is kept
    _, body = request(srv.port, "/echo?n=2", sent, source="127.0.0.2")
    echoed = {k.lower(): v for k, v in json.loads(body)["headers"]}
    assert echoed["x-request-id"] == "from-a-balancer"
    assert log_entry(log, "n=2")["request_id"] == "from-a-balancer"
    # time to the backend's first byte, and the whole request
    request(srv.port, "/sleep/0.3?n=3", {})
    slow = log_entry(log, "n=3")
    assert 300 <= slow["upstream_ttfb_ms"] <= slow["duration_ms"] < 5000
    # a request answered without a backend still has an id
    b.stop()
    status, _ = request(srv.port, "/echo?n=4", {})
    assert status == 502
    failed = log_entry(log, "n=4")
    assert failed["request_id"] and failed["upstream"] == b.address
    assert failed["upstream_ttfb_ms"] is None
    deadline = time.monotonic() + 5
    while "answered 502" not in srv.stderr_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    line = next(x for x in srv.stderr_text().splitlines() if "answered 502" in x)
    assert f"(request {failed['request_id']})" in line
    assert "is the server running and listening at that address?" in line


def test_the_access_log_says_what_the_cache_did(
    server: Callable[..., Any], backends: Callable[..., Backend], tmp_path: Path
) -> None:
    b = backends("obs-cache")
    log = tmp_path / "access.json"
    srv = server(
        f"""
[[route]]
name = "cached"
proxy = {{ pool = "app" }}
cache = "main"

[pool.app]
servers = ["{b.address}"]

[cache.main]
memory = "4MB"
""",
        access_log=str(log),
        access_log_format="json",
    )
    for n in (1, 2):
        status, _ = request(srv.port, "/c/page?cc=max-age%3D60", {"X-N": str(n)})
        assert status == 200
    time.sleep(0.1)
    deadline = time.monotonic() + 5
    entries: list[dict[str, Any]] = []
    while len(entries) < 2 and time.monotonic() < deadline:
        entries = [json.loads(x) for x in log.read_text().splitlines() if "/c/page" in x]
        time.sleep(0.05)
    miss, hit = entries
    assert "fwd=uri-miss" in miss["cache"] and "stored" in miss["cache"]
    assert miss["upstream"] == b.address
    assert hit["cache"].endswith("; hit") or "; hit;" in hit["cache"]
    assert hit["upstream"] is None and hit["upstream_ttfb_ms"] is None


def test_cache_hits_misses_stores_and_bytes_per_tier_in_prometheus(
    server: Callable[..., Any], backends: Callable[..., Backend], tmp_path: Path
) -> None:
    import urllib.error
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    b = backends("obs-tiers")
    admin_port = _free_port()
    srv = server(
        f"""
[admin]
listen = "127.0.0.1:{admin_port}"

[[route]]
name = "cached"
proxy = {{ pool = "app" }}
cache = "main"

[pool.app]
servers = ["{b.address}"]

[cache.main]
memory = "4MB"
disk = {{ path = "{tmp_path / "disk"}", size = "16MB" }}
""",
        workers=2,
    )
    urls = [f"/c/tier{i}?cc=max-age%3D60" for i in range(6)]
    sizes = []
    for _round in range(2):
        for u in urls:
            status, body = request(srv.port, u, {})
            assert status == 200
            sizes.append(len(body))

    def scrape() -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=5) as r:
            text = r.read().decode()
        return {f.name: f for f in text_string_to_metric_families(text)}

    deadline = time.monotonic() + 15
    while True:  # a store is committed as the answer ends: wait for the last one
        try:
            families = scrape()
        except urllib.error.URLError:  # the admin listener opens once the workers are up
            assert time.monotonic() < deadline, "the admin listener never opened"
            time.sleep(0.1)
            continue
        stores = {
            s.labels["tier"]: s.value
            for s in families["frontdesk_cache_stores"].samples
            if s.name == "frontdesk_cache_stores_total"
        }
        if stores == {"memory": 6, "disk": 6} or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    print(f"\nstores per tier: {stores}")
    assert stores == {"memory": 6, "disk": 6}  # each URL once, in each tier
    lookups = {
        (s.labels["tier"], s.labels["result"]): s.value
        for s in families["frontdesk_cache_lookups"].samples
        if s.name == "frontdesk_cache_lookups_total"
    }
    print(f"lookups per tier: {lookups}")
    assert lookups[("memory", "miss")] >= 6  # the first round: nothing anywhere
    assert lookups[("memory", "hit")] + lookups[("disk", "hit")] == 6  # the second round
    stored = {s.labels["tier"]: s.value for s in families["frontdesk_cache_bytes"].samples}
    print(f"bytes per tier: {stored}")
    assert stored["memory"] >= sum(sizes[:6]) and stored["disk"] >= sum(sizes[:6])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
