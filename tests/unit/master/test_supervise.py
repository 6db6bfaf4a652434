"""The pure part of app supervision: the state table, restart backoff, reload plans."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from frontdesk.config.apps import App
from frontdesk.master.supervise import (
    BACKOFF_MAX,
    CRASH_LOOP,
    CRASH_WINDOW,
    TRANSITIONS,
    Backoff,
    Change,
    Event,
    State,
    next_state,
    plan_reload,
    rolling_steps,
)


def app(**keys: object) -> App:
    return App.model_validate({"command": "python app.py", **keys})


# ---------------------------------------------------------------- the state table


def test_every_state_is_reachable_from_starting() -> None:
    seen = {State.STARTING}
    todo = [State.STARTING]
    while todo:
        state = todo.pop()
        for (src, _), dst in TRANSITIONS.items():
            if src is state and dst not in seen:
                seen.add(dst)
                todo.append(dst)
    assert seen == set(State)


def test_stopped_is_final_and_failed_only_stops() -> None:
    assert not [k for k in TRANSITIONS if k[0] is State.STOPPED]
    assert {e for (s, e) in TRANSITIONS if s is State.FAILED} == {Event.STOP}


@pytest.mark.parametrize(
    ("state", "event", "after"),
    [
        (State.STARTING, Event.READY, State.READY),
        (State.READY, Event.EXITED, State.BACKOFF),  # a crash: restarted
        (State.DRAINING, Event.EXITED, State.STOPPED),  # exited while leaving: not restarted
        (State.STOPPING, Event.EXITED, State.STOPPED),
        (State.BACKOFF, Event.RETRY, State.STARTING),
        (State.STOPPING, Event.READY, State.STOPPING),  # no entry: unchanged
    ],
)
def test_transitions(state: State, event: Event, after: State) -> None:
    assert next_state(state, event) is after


# ---------------------------------------------------------------- backoff


def test_backoff_doubles_from_one_second_then_a_crash_loop_stops_it() -> None:
    b = Backoff()
    delays = [b.exited(ran_for=0.5) for _ in range(CRASH_LOOP)]
    assert [d.delay for d in delays[:-1]] == [1.0, 2.0, 4.0, 8.0]
    assert not any(d.failed for d in delays[:-1])
    assert delays[-1].failed


def test_an_instance_that_ran_a_while_starts_the_count_over() -> None:
    b = Backoff()
    for _ in range(CRASH_LOOP - 1):
        b.exited(ran_for=1.0)
    again = b.exited(ran_for=CRASH_WINDOW + 1)
    assert not again.failed and again.delay == 1.0


def test_reset_gives_a_failed_app_a_fresh_chance() -> None:
    b = Backoff()
    for _ in range(CRASH_LOOP):
        b.exited(ran_for=0.1)
    b.reset()
    assert b.exited(ran_for=0.1).delay == 1.0


@given(st.lists(st.floats(min_value=0, max_value=3 * CRASH_WINDOW), max_size=40))
def test_backoff_properties(runs: list[float]) -> None:
    b = Backoff()
    quick = 0
    for ran in runs:
        decision = b.exited(ran_for=ran)
        quick = 1 if ran >= CRASH_WINDOW else quick + 1
        assert 0 <= decision.delay <= BACKOFF_MAX
        assert decision.failed == (quick >= CRASH_LOOP)
        if decision.failed:
            return  # the supervisor stops here


# ---------------------------------------------------------------- reload plans


def test_plan_reload_names_what_each_app_needs() -> None:
    old = {
        "web": app(instances=2),
        "env": app(env={"A": "1"}),
        "cmd": app(),
        "scale": app(instances=2),
        "timeouts": app(),
        "gone": app(),
    }
    new = {
        "web": app(instances=2),
        "env": app(env={"A": "2"}),
        "cmd": app(command=["python", "other.py"]),
        "scale": app(instances=4),
        "timeouts": app(start_timeout="5s"),
        "fresh": app(),
    }
    plan = plan_reload(old, new)
    changes = {p.name: p.change for p in plan.apps}
    assert changes == {
        "web": Change.KEEP,
        "env": Change.REPLACE,
        "cmd": Change.REPLACE,
        "scale": Change.SCALE,
        "timeouts": Change.ADOPT,
        "gone": Change.STOP,
        "fresh": Change.START,
    }
    assert plan.of(Change.REPLACE) == ["env", "cmd"]
    assert next(p for p in plan.apps if p.name == "scale").instances == (2, 4)


def test_a_replacement_that_also_scales_is_a_replacement() -> None:
    plan = plan_reload({"w": app(cwd="/")}, {"w": app(cwd="/tmp", instances=3)})
    assert plan.apps[0].change is Change.REPLACE and plan.apps[0].instances == (1, 3)


@given(st.integers(min_value=1, max_value=50))
def test_rolling_steps_keep_capacity(instances: int) -> None:
    """Each slot: start, join, drain, stop, in that order; an old instance is drained
    only after its successor joined, so `instances` stay in the pool throughout."""
    steps = rolling_steps(instances)
    assert len(steps) == 4 * instances
    in_pool = instances
    for step in steps:
        if step.action == "join":
            in_pool += 1
        elif step.action == "drain":
            in_pool -= 1
        assert in_pool >= instances
    for slot in range(1, instances + 1):
        assert [s.action for s in steps if s.slot == slot] == ["start", "join", "drain", "stop"]


# ---------------------------------------------------------------- the config


def test_command_string_is_split_as_a_shell_would() -> None:
    assert app(command="gunicorn -b '127.0.0.1:$PORT' \"app:app\"").command == (
        "gunicorn",
        "-b",
        "127.0.0.1:$PORT",
        "app:app",
    )


def test_env_values_are_text() -> None:
    assert app(env={"N": 3, "DEBUG": True}).env == {"N": "3", "DEBUG": "true"}
