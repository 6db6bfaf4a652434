"""Retry budget arithmetic (Finagle RetryBudget: ratio of requests + a floor per second)."""

from __future__ import annotations

import pytest

from frontdesk.balance import RetryBudget


def test_the_floor_alone_allows_min_per_second_times_window() -> None:
    """No traffic: 1 retry/s over a 10 s window = 10 retries, the 11th is refused."""
    b = RetryBudget(ratio=0.2, min_per_second=1.0, window=10.0)
    assert [b.try_retry(0.5) for _ in range(11)] == [True] * 10 + [False]


def test_the_ratio_earns_retries_from_requests() -> None:
    """20% of 100 requests = 20 retries (floor off)."""
    b = RetryBudget(ratio=0.2, min_per_second=0.0, window=10.0)
    for _ in range(100):
        b.record_request(1.0)
    assert b.available(1.0) == pytest.approx(20.0)
    assert sum(b.try_retry(1.0) for _ in range(30)) == 20
    assert b.available(1.0) == pytest.approx(0.0)


def test_floor_and_ratio_add_up() -> None:
    b = RetryBudget(ratio=0.1, min_per_second=0.5, window=10.0)
    for _ in range(40):
        b.record_request(0.0)
    assert b.available(0.0) == pytest.approx(4.0 + 5.0)


def test_counts_slide_out_of_the_window() -> None:
    """Requests at t=0 stop earning retries once the 10 s window has moved past them, and
    the retries taken then stop counting against the budget."""
    b = RetryBudget(ratio=0.5, min_per_second=0.0, window=10.0, buckets=10)
    for _ in range(10):
        b.record_request(0.0)
    assert sum(b.try_retry(0.0) for _ in range(10)) == 5
    assert b.available(9.5) == pytest.approx(0.0)  # still in the window
    assert b.available(10.5) == pytest.approx(0.0)  # both slid out
    for _ in range(4):
        b.record_request(10.5)
    assert b.available(10.5) == pytest.approx(2.0)
    assert b.available(1000.0) == pytest.approx(0.0)  # long idle: everything cleared


def test_partial_slide_keeps_the_newer_buckets() -> None:
    b = RetryBudget(ratio=1.0, min_per_second=0.0, window=10.0, buckets=10)
    b.record_request(0.0)
    b.record_request(5.0)
    assert b.available(9.9) == pytest.approx(2.0)
    assert b.available(10.0) == pytest.approx(1.0)  # t=0's bucket left; t=5's stays
    assert b.available(15.0) == pytest.approx(0.0)


def test_a_time_before_the_window_counts_in_the_newest_bucket() -> None:
    b = RetryBudget(ratio=1.0, min_per_second=0.0, window=10.0)
    b.available(100.0)
    b.record_request(3.0)  # a stale timestamp: counted, not lost nor misfiled
    assert b.available(100.0) == pytest.approx(1.0)
    assert b.available(109.5) == pytest.approx(1.0)  # it lives as long as the newest bucket
    assert b.available(110.0) == pytest.approx(0.0)


def test_invalid_settings() -> None:
    with pytest.raises(ValueError):
        RetryBudget(window=0)
    with pytest.raises(ValueError):
        RetryBudget(ratio=-0.1)
