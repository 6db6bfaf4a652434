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
