"""Worker supervision: the configured number of workers, and a killed one comes back."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

from proc_helpers import Server, config_text, free_port


def test_two_workers_are_children_of_the_master(serve: Callable[..., Server]) -> None:
    port = free_port()
    srv = serve(config_text(port, workers=2), port)
    pids = srv.wait_workers(2)
    assert srv.pid not in pids
    assert srv.get() == (200, b"v1")


def test_workers_cli_flag_overrides_config(serve: Callable[..., Server]) -> None:
    port = free_port()
    srv = serve(config_text(port, workers=2), port, args=("--workers", "1"))
    srv.wait_workers(1)
    assert srv.get() == (200, b"v1")


def test_killed_worker_is_restarted_and_requests_keep_being_answered(
    serve: Callable[..., Server],
) -> None:
    port = free_port()
    srv = serve(config_text(port, workers=2), port)
    before = srv.wait_workers(2)
    victim = before[0]
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 8.0
    failures: list[object] = []
    now: list[int] = []
    while time.monotonic() < deadline:
        try:
            status, body = srv.get()
            if (status, body) != (200, b"v1"):
                failures.append((status, body))
        except OSError as exc:
            failures.append(exc)
        now = srv.workers()
        if len(now) == 2 and victim not in now:
            break
        time.sleep(0.05)
    assert victim not in now and len(now) == 2, f"worker not restarted: {before} → {now}"
    assert before[1] in now  # the survivor was left alone
    assert failures == []
    srv.wait_log("worker restarted as")
    for _ in range(20):
        assert srv.get() == (200, b"v1")
    assert srv.proc.poll() is None
