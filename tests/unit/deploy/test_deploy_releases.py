"""Release ids, states, the rollback target and what pruning removes (pure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from frontdesk.deploy.releases import Release, release_id, rollback_target, states, to_prune


def _r(n: int, ok: bool = True) -> Release:
    return Release(f"r{n:02d}", f"{n:040x}", f"commit {n}", 1000.0 + n, ok=ok)


def test_release_id_is_utc_time_and_short_sha_and_never_taken() -> None:
    sha = "abcdef1234" + "0" * 30
    rid = release_id(sha, 0.0, set())
    assert rid == "19700101-000000-abcdef1"
    assert release_id(sha, 0.0, {rid}) == rid + ".2"
    assert release_id(sha, 0.0, {rid, rid + ".2"}) == rid + ".3"


def test_states_live_previous_failed_retired() -> None:
    releases = [_r(1), _r(2), _r(3, ok=False), _r(4), _r(5)]
    history = ["r01", "r02", "r04", "r05"]
    got = states(releases, history, "r05")
    assert got == {
        "r01": "retired",
        "r02": "retired",
        "r03": "failed",
        "r04": "previous",
        "r05": "live",
    }


def test_rollback_target_after_a_rollback_is_the_release_left() -> None:
    # r1, r2 went live, then a rollback to r1: `rollback` again goes back to r2.
    assert rollback_target(["r1", "r2", "r1"], "r1") == "r2"
    assert rollback_target(["r1"], "r1") is None
    assert rollback_target([], None) is None


def test_prune_keeps_the_newest_and_the_protected() -> None:
    releases = [_r(n) for n in range(1, 9)]
    removed = {r.id for r in to_prune(releases, 3, {"r01", "r05"})}
    assert removed == {"r02", "r03", "r04"}


@given(
    st.integers(1, 12),
    st.integers(1, 6),
    st.sets(st.integers(1, 12), max_size=2),
)
def test_prune_never_removes_protected_and_keeps_enough(n: int, keep: int, prot: set[int]) -> None:
    releases = [_r(i) for i in range(1, n + 1)]
    protected = {f"r{i:02d}" for i in prot}
    removed = to_prune(releases, keep, protected)
    ids = {r.id for r in removed}
    assert not ids & protected
    assert n - len(removed) >= min(n, keep)
    newest = sorted(releases, key=lambda r: r.time, reverse=True)[:keep]
    assert not ids & {r.id for r in newest}
