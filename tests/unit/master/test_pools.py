"""master/pools.py: the master's copy of each pool, admin commands, reload carry-over."""

from __future__ import annotations

import pytest

from frontdesk.balance import AdminState
from frontdesk.config.model import Config
from frontdesk.master.pools import PoolError, PoolStates


def config(**pools: list[str]) -> Config:
    return Config.model_validate(
        {
            "route": [{"proxy": {"pool": name}} for name in pools],
            "pool": {name: {"servers": servers} for name, servers in pools.items()},
        }
    )


A, B, C = "127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003"


def test_admin_commands_and_their_errors() -> None:
    states = PoolStates(config(p=[A, B], one=[C]))
    p = states.get("p")
    p.set_admin(A, AdminState.DRAIN, 1.0)
    assert p.message() == {
        "type": "pool",
        "pool": "p",
        "state": {
            "generation": 1,
            "members": [
                {"id": A, "weight": 1, "admin": "drain", "up": True},
                {"id": B, "weight": 1, "admin": "active", "up": True},
            ],
        },
    }
    with pytest.raises(PoolError, match=r"no pool 'q' in the running config \(its pools: p, one\)"):
        states.get("q")
    with pytest.raises(PoolError, match=r"pool 'p' has no server '10.0.0.1:80'") as exc:
        p.set_admin("10.0.0.1:80", AdminState.DISABLED, 1.0)
    assert exc.value.status == 404
    with pytest.raises(PoolError, match="has a single server") as exc:
        states.get("one").set_admin(C, AdminState.DRAIN, 1.0)
    assert exc.value.status == 409
    assert list(states.wire()) == ["p"]  # a single-server pool has no state to send


def test_a_reload_keeps_the_state_of_servers_still_listed() -> None:
    states = PoolStates(config(p=[A, B, C]))
    states.get("p").set_admin(B, AdminState.DISABLED, 1.0)
    states.get("p").set_admin(C, AdminState.DRAIN, 1.0)
    new = states.successor(config(p=[B, A], q=[A, C]))
    wire = new.wire()
    assert {m["id"]: m["admin"] for m in wire["p"]["members"]} == {B: "disabled", A: "active"}
    assert wire["p"]["generation"] > states.wire()["p"]["generation"]
    assert {m["admin"] for m in wire["q"]["members"]} == {"active"}
