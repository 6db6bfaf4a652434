"""master/discovery.py: names resolved to members, with a scripted resolver; and the
real lookup of names /etc/hosts gives (no network)."""

from __future__ import annotations

import logging

import pytest

from frontdesk.balance import AdminState
from frontdesk.config.model import Config
from frontdesk.master.discovery import Discovery, member_id, resolve
from frontdesk.master.pools import MasterPool, PoolStates

NAME = "app.internal:8000"


def config(servers: list[object]) -> Config:
    return Config.model_validate(
        {"route": [{"proxy": {"pool": "p"}}], "pool": {"p": {"servers": servers}}}
    )


def states(servers: list[object]) -> PoolStates:
    return PoolStates(config(servers))


class Scripted:
    """A resolver answering from a list of results (an exception: a failed lookup)."""

    def __init__(self, *answers: list[str] | Exception) -> None:
        self.answers = list(answers)
        self.asked: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append((host, port))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def ids(pool: MasterPool) -> list[str]:
    return [m.id for m in pool.balance.members]


async def test_members_follow_the_records_and_survive_a_failed_lookup(caplog) -> None:
    caplog.set_level(logging.WARNING, "frontdesk.error")
    (pool,) = states([{"address": NAME, "resolve": True, "weight": 2}, "127.0.0.1:9000"])
    assert ids(pool) == [NAME, "127.0.0.1:9000"]  # until the first lookup
    changed: list[MasterPool] = []
    resolver = Scripted(
        ["10.0.0.1:8000", "10.0.0.2:8000"],
        ["10.0.0.1:8000", "10.0.0.2:8000"],
        OSError("Name or service not known"),
        OSError("Name or service not known"),
        ["10.0.0.2:8000", "[fd00::3]:8000"],
    )
    job = Discovery(changed.append, resolver)
    await job.check_once(pool)
    assert resolver.asked == [("app.internal", 8000)]
    assert ids(pool) == ["10.0.0.1:8000", "10.0.0.2:8000", "127.0.0.1:9000"]
    assert [m.weight for m in pool.balance.members] == [2, 2, 1]
    assert changed == [pool]
    await job.check_once(pool)  # the same records: nothing to send
    assert changed == [pool]
    pool.balance.set_admin("10.0.0.2:8000", AdminState.DRAIN, 1.0)
    await job.check_once(pool)
    await job.check_once(pool)  # two failures: the members stay, logged once
    assert ids(pool) == ["10.0.0.1:8000", "10.0.0.2:8000", "127.0.0.1:9000"]
    failures = [m for m in caplog.messages if "cannot resolve" in m]
    assert failures == [
        "pool 'p': cannot resolve app.internal:8000 (Name or service not known); "
        "keeping 10.0.0.1:8000, 10.0.0.2:8000"
    ]
    await job.check_once(pool)
    assert ids(pool) == ["10.0.0.2:8000", "[fd00::3]:8000", "127.0.0.1:9000"]
    assert pool.balance.member("10.0.0.2:8000").admin is AdminState.DRAIN  # stayed: kept
    assert changed == [pool, pool]
    assert "pool 'p': app.internal:8000 resolves again" in caplog.messages


def test_an_address_found_twice_is_one_member_and_drain_by_name_covers_all() -> None:
    (pool,) = states([{"address": NAME, "resolve": True}, {"address": "10.0.0.1:8000"}])
    assert pool.set_resolved(NAME, ["10.0.0.1:8000", "10.0.0.2:8000"], 1.0)
    assert ids(pool) == ["10.0.0.1:8000", "10.0.0.2:8000"]
    assert pool.set_admin(NAME, AdminState.DISABLED, 2.0) == ["10.0.0.1:8000", "10.0.0.2:8000"]
    assert not pool.set_resolved(NAME, ["10.0.0.1:8000", "10.0.0.2:8000"], 3.0)


def test_a_reload_keeps_what_names_resolved_to() -> None:
    old = states([{"address": NAME, "resolve": True}])
    old.get("p").set_resolved(NAME, ["10.0.0.1:8000"], 1.0)
    (kept,) = old.successor(config([{"address": NAME, "resolve": True}, "10.0.0.9:80"]))
    assert ids(kept) == ["10.0.0.1:8000", "10.0.0.9:80"]
    (plain,) = old.successor(config([NAME, "10.0.0.9:80"]))  # not resolved: the name itself
    assert ids(plain) == [NAME, "10.0.0.9:80"]


@pytest.mark.parametrize(
    ("host", "found"),
    [("localhost", ["127.0.0.1:80"]), ("127.0.0.1", ["127.0.0.1:80"]), ("::1", ["[::1]:80"])],
)
async def test_real_lookups_of_local_names(host: str, found: list[str]) -> None:
    # "localhost" comes from /etc/hosts (127.0.0.1 here; ::1 too on some machines).
    assert set(found) <= set(await resolve(host, 80))


def test_member_ids() -> None:
    assert member_id("10.0.0.1", 80) == "10.0.0.1:80"
    assert member_id("fd00::1", 80) == "[fd00::1]:80"
