"""S3-FIFO: the byte bound, one-hit wonders leave first, reused objects survive a scan."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from frontdesk.cache.s3fifo import S3Fifo


def test_new_objects_wait_in_the_small_queue_and_leave_first() -> None:
    c: S3Fifo[str] = S3Fifo(100)
    assert c.insert("hot", 10) == []
    c.touch("hot")
    evicted = []
    for i in range(20):
        evicted += c.insert(f"scan{i}", 10)
    # The reused object was promoted to the main queue; the scan evicted itself.
    assert "hot" in c
    assert evicted and all(k.startswith("scan") for k in evicted)


def test_a_key_back_from_the_ghost_queue_goes_to_main() -> None:
    c: S3Fifo[str] = S3Fifo(100)
    c.insert("a", 10)
    for i in range(10):
        c.insert(f"x{i}", 10)
    assert "a" not in c
    c.insert("a", 10)
    assert "a" in c._main


def test_main_queue_gives_a_second_chance_to_hit_objects() -> None:
    c: S3Fifo[str] = S3Fifo(100)
    for k in ("a", "b"):
        c.insert(k, 10)
        c.touch(k)
    for i in range(30):
        c.insert(f"s{i}", 10)
        c.touch("a")  # a stays hot, b does not
    assert "a" in c


def test_too_large_is_refused_and_replacing_keeps_the_count() -> None:
    c: S3Fifo[str] = S3Fifo(100)
    assert c.insert("big", 101) == ["big"]
    assert "big" not in c and c.bytes == 0
    c.insert("a", 10)
    c.insert("a", 30)
    assert c.bytes == 30 and len(c) == 1
    assert c.remove("a") and not c.remove("a") and c.bytes == 0


ops = st.lists(
    st.tuples(
        st.sampled_from(["insert", "touch", "remove"]), st.integers(0, 40), st.integers(0, 60)
    ),
    max_size=300,
)


@given(capacity=st.integers(0, 200), ops=ops)
def test_never_over_the_bound_and_accounting_matches(
    capacity: int, ops: list[tuple[str, int, int]]
) -> None:
    c: S3Fifo[int] = S3Fifo(capacity)
    held: dict[int, int] = {}
    for op, key, size in ops:
        if op == "insert":
            evicted = c.insert(key, size)
            held[key] = size
            for k in evicted:
                held.pop(k, None)
            # only what the new object needed room for was evicted
            assert key in c or size > capacity
        elif op == "touch":
            assert c.touch(key) == (key in held)
        else:
            assert c.remove(key) == (key in held)
            held.pop(key, None)
        assert c.bytes <= capacity
        assert c.bytes == sum(held.values())
        assert set(c) == set(held)
        assert len(c._ghost) <= max(len(c._main), 16)


@given(sizes=st.lists(st.integers(1, 30), min_size=1, max_size=60))
def test_eviction_is_fifo_among_unused_objects(sizes: list[int]) -> None:
    # Without hits and without ghosts, S3-FIFO is FIFO: the oldest leaves first.
    c: S3Fifo[int] = S3Fifo(100)
    order: list[int] = []
    for i, size in enumerate(sizes):
        order += c.insert(i, size)
    assert order == sorted(order)
    assert order == list(range(len(order)))
