"""Fetch leases across processes (cache/leases.py): what one worker sees of another's.

The other worker is a child process holding a lease on the same file; the kernel's
record locks are per process, so this is the only honest way to test them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from frontdesk.cache.board import slot_of
from frontdesk.cache.leases import Leases
from frontdesk.cache.shared import key_hash

A = key_hash("GET http://example.test/a")


def same_slot_other_key(kid: bytes) -> bytes:
    """A made-up key hash in the slot of `kid` with another fingerprint."""
    return kid[:2] + bytes(b ^ 0xFF for b in kid[2:10]) + kid[10:]


@contextmanager
def other_worker(path: Path, kid: bytes, *, release: bool) -> Iterator[int]:
    """A child process that takes the lease of `kid` and holds it until told; then it
    releases it (or not) and exits. Yields the child's pid once it holds the lease."""
    go_r, go_w = os.pipe()
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: no pytest machinery past this point
        try:
            leases = Leases(path)
            os.write(ready_w, b"1" if leases.take(kid) else b"0")
            os.read(go_r, 1)
            if release:
                leases.release(kid)
                os.write(ready_w, b"r")
                os.read(go_r, 1)
        finally:
            os._exit(0)
    os.close(go_r)
    os.close(ready_w)
    try:
        assert os.read(ready_r, 1) == b"1"
        yield pid
    finally:
        os.write(go_w, b"g")
        if release:
            assert os.read(ready_r, 1) == b"r"
            os.write(go_w, b"g")
        os.waitpid(pid, 0)
        os.close(go_w)
        os.close(ready_r)


def test_another_workers_lease_is_seen_and_its_release_too(tmp_path):
    path = tmp_path / "leases"
    here = Leases(path)
    assert not here.fetching_elsewhere(A)
    with other_worker(path, A, release=True):
        assert here.marked(A) and here.fetching_elsewhere(A)
        assert not here.take(A)  # one fetch per key across the workers
    # released, then exited: nothing left
    assert not here.marked(A) and not here.fetching_elsewhere(A)
    assert here.take(A)


def test_a_lease_whose_worker_died_is_not_waited_for(tmp_path):
    path = tmp_path / "leases"
    here = Leases(path)
    with other_worker(path, A, release=False):
        assert here.fetching_elsewhere(A)
    # The child exited without letting go: its mark stays, the kernel dropped its lock.
    assert here.marked(A)
    assert not here.fetching_elsewhere(A)
    assert here.take(A)  # and the key can be fetched again


def test_another_key_of_the_same_slot_is_not_waited_for(tmp_path):
    path = tmp_path / "leases"
    here = Leases(path)
    b = same_slot_other_key(A)
    assert slot_of(b) == slot_of(A)
    with other_worker(path, A, release=True):
        assert not here.marked(b) and not here.fetching_elsewhere(b)
        assert here.locked_elsewhere(b)  # the slot's lock, for a key the mark names
        assert not here.take(b)  # the slot holds one lease: b is fetched without one


def test_own_leases_are_never_probed_nor_taken_twice(tmp_path):
    path = tmp_path / "leases"
    here = Leases(path)
    assert here.take(A)
    assert not here.take(A)
    assert not here.take(same_slot_other_key(A))
    # A probe of its own slot would drop its own lock (POSIX locks are per process).
    assert not here.marked(A) and not here.fetching_elsewhere(A)
    here.release(same_slot_other_key(A))  # not the holder of that key: no effect
    assert not here.take(A)
    here.release(A)
    assert here.take(A)


def test_the_lock_still_holds_after_another_process_probed_it(tmp_path):
    path = tmp_path / "leases"
    here = Leases(path)
    with other_worker(path, A, release=True):
        for _ in range(3):  # a probe takes and drops a shared lock of its own
            assert here.fetching_elsewhere(A)


def test_a_closed_file_lets_go_and_answers_nothing(tmp_path):
    path = tmp_path / "leases"
    here = Leases(path)
    assert here.take(A)
    here.close()
    # A fetch that ends after the tier closed (a stopping worker) releases nothing.
    here.release(A)
    assert not here.take(A) and not here.marked(A) and not here.fetching_elsewhere(A)
    there = Leases(path)
    assert not there.fetching_elsewhere(A)  # the lock went with the descriptor
    assert there.take(A)
