"""Health state machines: rise/fall thresholds, check responses, outlier ejection."""

from __future__ import annotations

import pytest

from frontdesk.balance.health import (
    ACTIVE_TRANSITIONS,
    ActiveHealth,
    Change,
    CheckThresholds,
    Outlier,
    OutlierConfig,
    response_passes,
)

THRESHOLDS = CheckThresholds(rise=2, fall=3)


# -- active checks: rise / fall ----------------------------------------------------------


@pytest.mark.parametrize(("state", "passed"), sorted(ACTIVE_TRANSITIONS))
def test_every_transition_of_the_table(state: bool, passed: bool) -> None:
    """Driven by the table itself: a result that agrees with the state never flips it; one
    that disagrees flips it on exactly the `rise`/`fall`-th result in a row (HAProxy)."""
    h = ActiveHealth(up=state)
    limit_name = ACTIVE_TRANSITIONS[(state, passed)]
    if limit_name is None:
        for _ in range(10):
            assert h.record(passed, THRESHOLDS) is None
        assert h.up is state
        return
    limit = getattr(THRESHOLDS, limit_name)
    for _ in range(limit - 1):
        assert h.record(passed, THRESHOLDS) is None
        assert h.up is state
    assert h.record(passed, THRESHOLDS) is (Change.UP if passed else Change.DOWN)
    assert h.up is passed
    # The streak starts over at the flip: one result the other way does not flip it back.
    assert h.record(not passed, THRESHOLDS) is None
    assert h.up is passed
    assert h.record(passed, THRESHOLDS) is None  # already there


def test_a_result_that_agrees_starts_the_streak_over() -> None:
    """fall=3: fail, fail, pass, fail, fail is never three failures in a row."""
    h = ActiveHealth(up=True)
    for passed in (False, False, True, False, False):
        assert h.record(passed, THRESHOLDS) is None
    assert h.up
    assert h.record(False, THRESHOLDS) is Change.DOWN


def test_thresholds_must_be_positive() -> None:
    with pytest.raises(ValueError):
        CheckThresholds(rise=0)


@pytest.mark.parametrize(
    ("status", "body", "kwargs", "expected"),
    [
        (200, b"ok", {}, True),
        (204, b"", {}, True),
        (301, b"", {}, True),  # 2xx and 3xx pass by default (HAProxy httpchk)
        (399, b"", {}, True),
        (404, b"ok", {}, False),
        (500, b"ok", {}, False),
        (199, b"", {}, False),
        (200, b"status: ok", {"expect_body": b"ok"}, True),
        (200, b"status: degraded", {"expect_body": b"ok"}, False),
        (500, b"ok", {"expect_body": b"ok"}, False),
        (503, b"", {"expect_status": (200, 503)}, True),
        (301, b"", {"expect_status": (200, 299)}, False),
    ],
)
def test_response_passes(
    status: int, body: bytes, kwargs: dict[str, object], expected: bool
) -> None:
    assert response_passes(status, body, **kwargs) is expected  # type: ignore[arg-type]


# -- passive: outlier ejection -----------------------------------------------------------

CONFIG = OutlierConfig(consecutive=5, base=30.0, max=300.0)


def fail(o: Outlier, now: float, times: int = 1) -> list[Change | None]:
    return [o.record(now, True, CONFIG) for _ in range(times)]


def test_consecutive_failures_eject_on_the_nth() -> None:
    """Envoy consecutive_5xx: the 5th failure in a row ejects, for base_ejection_time."""
    o = Outlier()
    assert fail(o, 10.0, 4) == [None] * 4
    assert fail(o, 10.0) == [Change.EJECTED]
    assert o.ejected_until == 40.0


def test_a_success_breaks_the_streak() -> None:
    o = Outlier()
    fail(o, 0.0, 4)
    assert o.record(0.0, False, CONFIG) is None
    assert fail(o, 0.0, 4) == [None] * 4
    assert o.ejected_until is None


def test_backoff_doubles_on_probation_failures_up_to_the_cap() -> None:
    """Back from an ejection on probation, one failure ejects again, for twice as long:
    30, 60, 120, 240, then capped at 300."""
    o = Outlier()
    now = 0.0
    fail(o, now, 5)
    durations = []
    for _ in range(6):
        assert o.ejected_until is not None
        durations.append(o.ejected_until - now)
        now = o.ejected_until
        assert o.release(now - 0.001) is None  # not yet
        assert o.release(now) is Change.RETURNED
        assert o.probation
        assert fail(o, now) == [Change.EJECTED]
    assert durations == [30.0, 60.0, 120.0, 240.0, 300.0, 300.0]


def test_a_success_on_probation_ends_it() -> None:
    o = Outlier()
    fail(o, 0.0, 5)
    o.release(30.0)
    assert o.record(31.0, False, CONFIG) is None
    assert not o.probation
    assert fail(o, 32.0, 4) == [None] * 4  # back to needing five
    assert fail(o, 32.0) == [Change.EJECTED]
    assert o.ejected_until == 32.0 + 60.0  # the count did not start over yet


def test_the_backoff_starts_over_after_staying_in_for_max() -> None:
    o = Outlier()
    fail(o, 0.0, 5)
    o.release(30.0)
    o.record(30.0 + 300.0, False, CONFIG)  # answering well, 300 s after it came back
    fail(o, 400.0, 5)
    assert o.ejected_until == 430.0


def test_results_while_ejected_are_ignored() -> None:
    """Attempts that started before the ejection may end during it; they change nothing."""
    o = Outlier()
    fail(o, 0.0, 5)
    assert fail(o, 1.0, 10) == [None] * 10
    assert o.record(1.0, False, CONFIG) is None
    assert o.ejected_until == 30.0 and o.ejections == 1


def test_consecutive_zero_turns_passive_checks_off() -> None:
    o = Outlier()
    off = OutlierConfig(consecutive=0)
    assert [o.record(0.0, True, off) for _ in range(100)] == [None] * 100


def test_ejection_time_cannot_overflow() -> None:
    assert CONFIG.ejection_time(10_000) == 300.0


def test_reset_forgets_everything() -> None:
    o = Outlier()
    fail(o, 0.0, 5)
    o.reset()
    assert (o.streak, o.ejections, o.ejected_until, o.probation) == (0, 0, None, False)
