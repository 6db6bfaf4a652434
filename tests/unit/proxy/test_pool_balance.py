"""proxy/pool.py's use of the balance core, without sockets: picks, sticky cookie line,
retry budget, ejection accounting."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

from frontdesk.config.proxy import Pool as PoolConfig
from frontdesk.proxy.pool import UpstreamPool
from frontdesk.server.clock import Clock


def pool(**keys: object) -> UpstreamPool:
    keys.setdefault("servers", ["127.0.0.1:9001", "127.0.0.1:9002"])
    return UpstreamPool("p", PoolConfig.model_validate(keys), Clock(), b"fd")


def request(headers: list[tuple[bytes, bytes]] | None = None) -> SimpleNamespace:
    return SimpleNamespace(peer="10.0.0.1", path="/", headers=headers or [], scratch=None)


def test_one_server_has_no_balancer() -> None:
    p = pool(servers=["127.0.0.1:9001"])
    assert p.balance is None
    assert p.pick(request()) is p.backends[0]
    assert p.pick(request(), [p.backends[0]]) is None  # nothing else to try


def test_weights_and_exclusion() -> None:
    p = pool(
        servers=["127.0.0.1:9001", {"address": "127.0.0.1:9002", "weight": 3}],
        balance="round_robin",
    )
    got = Counter(p.pick(request()).label for _ in range(400))  # type: ignore[union-attr]
    assert got == Counter({"127.0.0.1:9001": 100, "127.0.0.1:9002": 300})
    a, b = p.backends
    assert all(p.pick(request(), [b]) is a for _ in range(10))
    assert p.pick(request(), [a, b]) is None


def test_sticky_cookie_line_set_once_then_followed() -> None:
    p = pool(sticky={"cookie": "srv", "secret": "0123456789abcdef"})
    first = p.pick(request())
    line = p.cookie_line
    assert line.startswith(b"Set-Cookie: srv=") and line.endswith(b"\r\n")
    cookie = line[len(b"Set-Cookie: ") :].split(b";")[0]
    for _ in range(20):
        assert p.pick(request([(b"Cookie", cookie)])) is first
        assert p.cookie_line == b""  # the client has it: nothing to set


def test_retry_budget_limits_retries() -> None:
    p = pool(retry_budget=0.0)
    # ratio 0: only the floor (10 a second over the 10 s window) is left.
    allowed = sum(p.may_retry() for _ in range(150))
    assert allowed == 100


def test_server_errors_eject_and_are_logged(caplog) -> None:  # type: ignore[no-untyped-def]
    p = pool(health={"passive": {"consecutive": 2, "base": "30s"}}, balance="round_robin")
    a, b = p.backends
    for _ in range(2):
        p.ended_status(a, p.started(a, first=True), 503)
    assert "ejected" in caplog.text
    assert all(p.pick(request()) is b for _ in range(10))


def test_the_masters_state_replaces_members_and_keeps_backends_that_stay() -> None:
    p = pool(servers=["127.0.0.1:9001", "127.0.0.1:9002"], balance="round_robin")
    kept = p.backends[0]
    assert p.balance is not None
    p.apply_wire(
        {
            "generation": 3,
            "members": [
                {"id": "127.0.0.1:9001", "weight": 1, "admin": "drain", "up": True},
                {"id": "[::1]:9003", "weight": 2, "admin": "active", "up": True},
                {"id": "127.0.0.1:9004", "weight": 1, "admin": "active", "up": False},
            ],
        }
    )
    assert [b.label for b in p.backends] == ["127.0.0.1:9001", "[::1]:9003", "127.0.0.1:9004"]
    assert p.backends[0] is kept
    assert p.backends[1].address == ("::1", 9003) and p.backends[1].host_header == b"[::1]:9003"
    picked = {p.pick(request()).label for _ in range(10)}  # type: ignore[union-attr]
    assert picked == {"[::1]:9003"}  # 9001 drains, 9004 is down
    states = {s["server"]: s["state"] for s in p.snapshot(0.0)["servers"]}
    assert states == {"127.0.0.1:9001": "drain", "[::1]:9003": "up", "127.0.0.1:9004": "down"}


def test_a_pool_of_one_server_ignores_the_masters_state() -> None:
    p = pool(servers=["127.0.0.1:9001"])
    p.apply_wire({"generation": 1, "members": []})
    assert [b.label for b in p.backends] == ["127.0.0.1:9001"]
