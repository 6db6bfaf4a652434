"""Access rules end to end: a real server, real sockets, each mechanism's accept and
reject paths; every refusal goes through access_helpers.refused (no protected byte)."""

from __future__ import annotations

import base64
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import bcrypt
import pytest
from access_helpers import PROTECTED, protected_file, refused

from frontdesk import sign_url

K1 = "old-key-0123456789abcdef"
K2 = "new-key-0123456789abcdef"


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def _users(path: Path, rounds: int = 4, **users: str) -> Path:
    lines = [
        f"{u}:{bcrypt.hashpw(p.encode(), bcrypt.gensalt(rounds)).decode()}"
        for u, p in users.items()
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def site(tmp_path: Path) -> Path:
    protected_file(tmp_path / "private" / "secret.txt")
    (tmp_path / "public").mkdir()
    (tmp_path / "public" / "hello.txt").write_text("hello\n")
    return tmp_path


def test_basic_auth_accept_reject_and_reload(server, site: Path) -> None:
    users = _users(site / "users", alice="wonderland", bob="builder")
    srv = server(
        f"""
[[route]]
match = {{ path = "/private/" }}
access = "staff"
static = {{ root = "{site / "private"}" }}

[access.staff]
htpasswd = "{users}"
realm = "Staff only"
"""
    )
    resp, body = srv.get("/private/secret.txt")
    refused(resp, body, 401)
    assert resp.getheader("WWW-Authenticate") == 'Basic realm="Staff only", charset="UTF-8"'
    for headers in (
        _basic("alice", "wrong"),
        _basic("mallory", "wonderland"),
        {"Authorization": "Basic !!notbase64"},
        {"Authorization": "Bearer wonderland"},
    ):
        resp, body = srv.get("/private/secret.txt", headers=headers)
        refused(resp, body, 401)
    resp, body = srv.get("/private/secret.txt", method="HEAD")
    refused(resp, body, 401)
    # Allowed: the file, on one keep-alive connection (verified once, then remembered).
    conn = srv.http()
    for _ in range(3):
        conn.request("GET", "/private/secret.txt", headers=_basic("alice", "wonderland"))
        r = conn.getresponse()
        assert r.status == 200 and r.read() == PROTECTED
    conn.request(
        "GET", "/private/secret.txt", headers={**_basic("bob", "builder"), "Range": "bytes=0-9"}
    )
    r = conn.getresponse()
    assert r.status == 206 and r.read() == PROTECTED[:10]
    conn.close()
    # The file changes: alice is gone, and her remembered verification with her.
    subprocess.run(
        [sys.executable, "-m", "frontdesk", "passwd", str(users), "alice", "--delete"],
        check=True,
        capture_output=True,
        timeout=30,
    )
    deadline = time.monotonic() + 5
    while True:
        resp, body = srv.get("/private/secret.txt", headers=_basic("alice", "wonderland"))
        if resp.status == 401 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    refused(resp, body, 401)
    resp, body = srv.get("/private/secret.txt", headers=_basic("bob", "builder"))
    assert resp.status == 200 and body == PROTECTED


def test_passwd_reads_stdin_when_not_a_tty(tmp_path: Path) -> None:
    path = tmp_path / "users"
    done = subprocess.run(
        [sys.executable, "-m", "frontdesk", "passwd", str(path), "carol"],
        input="s3cret\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "added carol" in done.stdout
    user, hashed = path.read_text().strip().split(":", 1)
    assert user == "carol" and bcrypt.checkpw(b"s3cret", hashed.encode())


@pytest.mark.slow
def test_other_requests_answered_while_bcrypt_verifies(server, site: Path) -> None:
    users = _users(site / "users", rounds=13, slow="password")  # ~0.5 s per verification
    srv = server(
        f"""
[[route]]
match = {{ path = "/private/" }}
access = "staff"
static = {{ root = "{site / "private"}" }}

[[route]]
match = {{ path = "/" }}
static = {{ root = "{site / "public"}" }}

[access.staff]
htpasswd = "{users}"
"""
    )
    result: list[int] = []

    def login() -> None:
        conn = srv.http(timeout=60)
        conn.request("GET", "/private/secret.txt", headers=_basic("slow", "password"))
        result.append(conn.getresponse().status)
        conn.close()

    started = time.monotonic()
    thread = threading.Thread(target=login)
    thread.start()
    time.sleep(0.1)
    quick = []
    while thread.is_alive() and len(quick) < 20:
        t0 = time.monotonic()
        conn = srv.http(timeout=30)
        conn.request("GET", "/hello.txt")
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
        quick.append(time.monotonic() - t0)
        assert resp.status == 200 and body == b"hello\n"
    thread.join(30)
    assert result == [200]
    took = time.monotonic() - started
    assert took > 0.3, "the hash was too quick to show anything"
    assert len(quick) >= 2 and max(quick) < took / 2, (quick, took)


def test_signed_urls(server, site: Path) -> None:
    srv = server(
        f"""
[[route]]
match = {{ path = "/dl/" }}
access = "links"
static = {{ root = "{site / "private"}" }}

[access.links]
signed = {{ keys = ["{K2}", "{K1}"] }}
"""
    )
    resp, body = srv.get("/dl/secret.txt")
    refused(resp, body, 403)
    for key in (K1, K2):  # rotation: the old key still works
        resp, body = srv.get(sign_url("/dl/secret.txt", key, 60))
        assert resp.status == 200 and body == PROTECTED
    good = sign_url("/dl/secret.txt", K2, 60)
    expires = good.split("expires=")[1].split("&")[0]
    resp, body = srv.get(good.replace(expires, str(int(expires) + 10_000)))
    refused(resp, body, 403)
    resp, body = srv.get(sign_url("/dl/secret.txt", "another-key-0123456789", 60))
    refused(resp, body, 403)
    resp, body = srv.get(sign_url("/dl/secret.txt", K2, -5))
    refused(resp, body, 410)
    done = srv.cli("sign", "/dl/secret.txt", "--expires", "10m")
    assert done.returncode == 0, done.stderr
    resp, body = srv.get(done.stdout.strip())
    assert resp.status == 200 and body == PROTECTED


def test_address_lists_and_spoofed_forwarded_for(server, site: Path) -> None:
    routes = f"""
[[route]]
match = {{ path = "/lan/" }}
access = "lan"
static = {{ root = "{site / "private"}" }}

[[route]]
match = {{ path = "/nolocal/" }}
access = "nolocal"
static = {{ root = "{site / "private"}" }}

[access.lan]
allow = ["10.0.0.0/8", "2001:db8::/32"]

[access.nolocal]
deny = ["127.0.0.0/8"]
"""
    direct = server(routes)
    resp, body = direct.get("/lan/secret.txt")
    refused(resp, body, 403)
    # A spoofed X-Forwarded-For from a peer that is not a trusted proxy changes nothing.
    resp, body = direct.get("/lan/secret.txt", headers={"X-Forwarded-For": "10.1.2.3"})
    refused(resp, body, 403)
    resp, body = direct.get("/lan/secret.txt", headers={"Forwarded": "for=10.1.2.3"})
    refused(resp, body, 403)
    resp, body = direct.get("/nolocal/secret.txt")
    refused(resp, body, 403)
    behind = server(routes, trusted_proxies=["127.0.0.1"])
    resp, body = behind.get("/lan/secret.txt", headers={"X-Forwarded-For": "10.1.2.3"})
    assert resp.status == 200 and body == PROTECTED
    resp, body = behind.get("/lan/secret.txt", headers={"Forwarded": 'for="[2001:db8::5]"'})
    assert resp.status == 200 and body == PROTECTED
    resp, body = behind.get("/lan/secret.txt", headers={"X-Forwarded-For": "192.0.2.1"})
    refused(resp, body, 403)
    resp, body = behind.get("/nolocal/secret.txt", headers={"X-Forwarded-For": "192.0.2.1"})
    assert resp.status == 200


def _raw_get(port: int, path: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data


def test_rate_limit_per_authenticated_user(server, site: Path) -> None:
    users = _users(site / "users", alice="a-password", bob="b-password")
    srv = server(
        f"""
[[route]]
match = {{ path = "/private/" }}
access = "staff"
static = {{ root = "{site / "private"}" }}
rate_limit = {{ rate = "1/m", burst = 2, key = "user" }}

[access.staff]
htpasswd = "{users}"
"""
    )
    alice, bob = _basic("alice", "a-password"), _basic("bob", "b-password")
    got = [srv.get("/private/secret.txt", headers=alice)[0].status for _ in range(3)]
    assert got == [200, 200, 429]
    resp, body = srv.get("/private/secret.txt", headers=alice)
    refused(resp, body, 429)
    assert srv.get("/private/secret.txt", headers=bob)[0].status == 200  # same address
    # A refused login is not counted against anyone: the rules come first.
    resp, body = srv.get("/private/secret.txt", headers=_basic("bob", "nope"))
    refused(resp, body, 401)
    assert srv.get("/private/secret.txt", headers=bob)[0].status == 200
