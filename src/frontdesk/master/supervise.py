"""The pure part of app supervision: instance states, restart backoff, reload plans.

No process, clock or socket here: times are passed in, decisions come out as data,
and master/apps.py does the work (STYLE habits 2 and 3).

An instance goes through the states in TRANSITIONS; `status` shows them:

    starting ──ready──▶ ready ──drain──▶ draining ──stop──▶ stopping ──exited──▶ stopped
       │                  │                                     ▲
       ├──exited──▶ backoff ◀──exited──┘          (start_timeout) starting ──stop──┘
       │              │  └──retry──▶ starting
       └──────────────┴──crash_loop──▶ failed

An instance that exits on its own is started again after a delay that doubles from
BACKOFF_BASE to BACKOFF_MAX; CRASH_LOOP exits in a row, each within CRASH_WINDOW of
its start, stop the retries (`failed`) with one loud error. An instance that ran for
longer than CRASH_WINDOW starts the count and the delay over.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from frontdesk.config.apps import REPLACING_KEYS, App

BACKOFF_BASE = 1.0
BACKOFF_MAX = 60.0
CRASH_WINDOW = 60.0
CRASH_LOOP = 5


class State(enum.Enum):
    STARTING = "starting"  # spawned, its check has not passed yet: not in the pool
    READY = "ready"  # in the pool
    DRAINING = "draining"  # in the pool, no new requests; stopped once idle
    STOPPING = "stopping"  # SIGTERM sent (SIGKILL after stop_timeout)
    BACKOFF = "backoff"  # exited on its own; started again after a delay
    FAILED = "failed"  # a crash loop: not started again until a restart or reload
    STOPPED = "stopped"  # stopped by frontdesk


class Event(enum.Enum):
    READY = "ready"  # first passing check
    DRAIN = "drain"
    STOP = "stop"
    EXITED = "exited"
    RETRY = "retry"  # the backoff delay is over
    CRASH_LOOP = "crash_loop"


TRANSITIONS: dict[tuple[State, Event], State] = {
    (State.STARTING, Event.READY): State.READY,
    (State.STARTING, Event.EXITED): State.BACKOFF,
    (State.STARTING, Event.STOP): State.STOPPING,
    (State.STARTING, Event.CRASH_LOOP): State.FAILED,
    (State.READY, Event.DRAIN): State.DRAINING,
    (State.READY, Event.EXITED): State.BACKOFF,
    (State.READY, Event.STOP): State.STOPPING,
    (State.READY, Event.CRASH_LOOP): State.FAILED,
    (State.DRAINING, Event.STOP): State.STOPPING,
    (State.DRAINING, Event.EXITED): State.STOPPED,
    (State.STOPPING, Event.EXITED): State.STOPPED,
    (State.BACKOFF, Event.RETRY): State.STARTING,
    (State.BACKOFF, Event.STOP): State.STOPPED,
    (State.BACKOFF, Event.CRASH_LOOP): State.FAILED,
    (State.FAILED, Event.STOP): State.STOPPED,
}
"""(state, event) → next state. An event with no entry leaves the state as it is
(an exit reported after a stop was decided, for instance)."""


def next_state(state: State, event: Event) -> State:
    return TRANSITIONS.get((state, event), state)


@dataclass(frozen=True, slots=True)
class Restart:
    """What to do after an instance exited on its own: start it again in `delay`
    seconds, or (`failed`) give up: a crash loop."""

    delay: float
    failed: bool = False


@dataclass
class Backoff:
    """The restart history of one instance slot (web.1 keeps its own across restarts)."""

    quick_exits: int = 0  # exits in a row, each within CRASH_WINDOW of its start
    restarts: int = 0  # for `status`: every start after the first

    def exited(self, ran_for: float) -> Restart:
        """The instance exited after running `ran_for` seconds."""
        if ran_for >= CRASH_WINDOW:
            self.quick_exits = 0  # it had settled: a fresh start, from BACKOFF_BASE
        self.quick_exits += 1
        if self.quick_exits >= CRASH_LOOP:
            return Restart(0.0, failed=True)
        return Restart(min(BACKOFF_BASE * 2 ** (self.quick_exits - 1), BACKOFF_MAX))

    def reset(self) -> None:
        """An operator's restart or a reload: the app gets a fresh chance."""
        self.quick_exits = 0


# ---------------------------------------------------------------- reload plans


class Change(enum.Enum):
    START = "start"  # a new [app.NAME]
    STOP = "stop"  # gone from the config
    REPLACE = "replace"  # command, env, cwd, bind or pool changed: rolling replacement
    SCALE = "scale"  # only `instances` changed (other keys may be adopted as well)
    ADOPT = "adopt"  # timeouts or health changed: the running instances take them
    KEEP = "keep"  # the same table: not touched at all


@dataclass(frozen=True)
class AppPlan:
    """What a reload does to one app."""

    name: str
    change: Change
    instances: tuple[int, int] = (0, 0)  # (before, after)


@dataclass(frozen=True)
class ReloadPlan:
    apps: tuple[AppPlan, ...] = field(default=())

    def of(self, change: Change) -> list[str]:
        return [p.name for p in self.apps if p.change is change]


def plan_reload(old: Mapping[str, App], new: Mapping[str, App]) -> ReloadPlan:
    """Compare the running apps with a reloaded config's: what each one needs."""
    plans = []
    for name in sorted(old.keys() - new.keys()):
        plans.append(AppPlan(name, Change.STOP, (old[name].instances, 0)))
    for name, app in new.items():
        before = old.get(name)
        if before is None:
            plans.append(AppPlan(name, Change.START, (0, app.instances)))
            continue
        counts = (before.instances, app.instances)
        if any(getattr(before, k) != getattr(app, k) for k in REPLACING_KEYS):
            change = Change.REPLACE
        elif before.instances != app.instances:
            change = Change.SCALE
        elif before != app:
            change = Change.ADOPT
        else:
            change = Change.KEEP
        plans.append(AppPlan(name, change, counts))
    return ReloadPlan(tuple(plans))


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a rolling replacement of instance slot `slot` (1-based)."""

    action: str  # "start" | "join" | "drain" | "stop"
    slot: int


def rolling_steps(instances: int) -> list[Step]:
    """The order of a rolling replacement: for each slot in turn, start a new instance,
    let it join the pool once its check passes, then drain the old one and stop it.
    Capacity never drops below `instances` ready instances."""
    steps = []
    for slot in range(1, instances + 1):
        steps += [Step("start", slot), Step("join", slot), Step("drain", slot), Step("stop", slot)]
    return steps
